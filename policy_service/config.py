"""Settings of the service, read from POLICY_* environment variables in this one place."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from policy_service.errors import ConfigError

PREFIX = "POLICY_"
# The state stores: one process, one Redis, a Redis Cluster (policy_service/state/).
STATE_SCHEMES = ("memory://", "redis://", "redis+cluster://")
# POLICY_ names that are not settings of the service but of its build, tests
# and benchmarks (README, Configuration): not reported as unknown.
OTHER_NAMES = ("POLICY_PURE_PYTHON", "POLICY_SHARED_DATA")
OTHER_PREFIXES = ("POLICY_TEST_",)


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with; see docs/configuration in README."""

    host: str = "127.0.0.1"
    port: int = 8080
    rules_dir: Path = Path("rules")
    state_url: str = "memory://"
    workers: int = 0  # 0: chosen from the store (one process with the memory store)
    log_level: str = "info"
    reload_interval: float = 2.0  # seconds between checks of the rules directory; 0: never
    shadow_rules_dir: str = ""  # a candidate policy evaluated beside the active one
    analyzer: str = "lexicon"  # fills the signals callers leave out: lexicon | none
    analyzer_model: str = ""  # a trained tone model directory (analyzer train)
    capture_url: str = ""  # redis://...: append each decision with its event to a stream
    capture_stream: str = "policy:capture"
    capture_maxlen: int = 100_000  # the stream keeps about this many entries
    tokens_file: str = ""  # YAML file of bearer tokens and their scopes (api/auth.py)
    # Serve without access control when no tokens file is given. False from the
    # environment (a production start without tokens is refused); see from_mapping
    # for the default of settings built from a mapping.
    dev_no_auth: bool = False
    metrics_public: bool = True  # /metrics without a token; false: it needs the read scope
    # Rate limits per window of the service's clock; 0 turns one off. On by
    # default and generous: they stop a runaway caller or a flood on one
    # account, far above what a brand's real traffic reaches (README, Limits).
    rate_limit_window: int = 60  # seconds
    rate_limit_token: int = 60_000  # requests per token (caller) per window
    rate_limit_account: int = 6_000  # new events per account per window
    # Polls of the Redis socket, the core yielded between them, before a worker of
    # `serve` blocks for a reply (state/reply_wait.py); 0: it blocks at once.
    redis_reply_polls: int = 300

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `POLICY_<NAME>` variables.

        Other POLICY_ names are ignored here: build and test settings share
        the prefix; `unknown_names` finds the rest (a misspelt setting), which
        `serve` reports.
        """
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for key, raw in env.items():
            if not key.startswith(PREFIX):
                continue
            name = key[len(PREFIX) :].lower()
            if name not in known:
                continue
            values[name] = raw
        return cls.from_mapping(values, dev_no_auth_default=False)

    @classmethod
    def unknown_names(cls, environ: Mapping[str, str] | None = None) -> list[str]:
        """POLICY_ variables that name no setting, each with the setting it may have
        meant: `POLICY_STATE_ULR (did you mean POLICY_STATE_URL?)`."""
        env = os.environ if environ is None else environ
        names = [f.name.upper() for f in fields(cls)]
        found = []
        for key in sorted(env):
            if not key.startswith(PREFIX) or key in OTHER_NAMES or key.startswith(OTHER_PREFIXES):
                continue
            name = key[len(PREFIX) :]
            if name in names:
                continue
            # Compared without the prefix, which every name shares.
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
            found.append(f"{key} (did you mean {PREFIX}{close[0]}?)" if close else key)
        return found

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, object], *, dev_no_auth_default: bool = True
    ) -> Settings:
        """Build settings from a mapping of field names to raw values (strings or typed).

        A mapping is how tests and embedding code configure the app
        (`create_app({...})`), so without a `dev_no_auth` entry it runs without
        access control unless it names a `tokens_file`: `dev_no_auth_default` is
        True. `from_env` passes False, so a real start needs tokens or an
        explicit POLICY_DEV_NO_AUTH=true.
        """
        kwargs: dict[str, object] = {"dev_no_auth": dev_no_auth_default}
        for f in fields(cls):
            if f.name not in values:
                continue
            raw = values[f.name]
            kwargs[f.name] = _convert(f.name, raw, f.type)
        settings = cls(**kwargs)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not (0 < self.port < 65536):
            raise ConfigError(f"{PREFIX}PORT must be between 1 and 65535, not {self.port}")
        if self.analyzer not in ("lexicon", "none"):
            raise ConfigError(f"{PREFIX}ANALYZER must be lexicon or none, not {self.analyzer!r}")
        if self.reload_interval < 0:
            raise ConfigError(f"{PREFIX}RELOAD_INTERVAL must be 0 (off) or a number of seconds")
        if self.workers < 0:
            raise ConfigError(f"{PREFIX}WORKERS must be 0 (automatic) or more")
        if self.rate_limit_window < 1:
            raise ConfigError(f"{PREFIX}RATE_LIMIT_WINDOW must be 1 second or more")
        if self.redis_reply_polls < 0:
            raise ConfigError(f"{PREFIX}REDIS_REPLY_POLLS must be 0 (off) or more")
        for name in ("rate_limit_token", "rate_limit_account"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{PREFIX}{name.upper()} must be 0 (off) or more")
        if not self.state_url.startswith(STATE_SCHEMES):
            raise ConfigError(
                f"{PREFIX}STATE_URL must be memory://, redis://host:port/db or "
                f"redis+cluster://host:port[,host:port...], not {self.state_url!r}"
            )


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _convert(name: str, raw: object, declared: object) -> object:
    if declared in ("int", int) and not isinstance(raw, int):
        try:
            return int(str(raw))
        except ValueError:
            raise ConfigError(
                f"{PREFIX}{name.upper()} must be a whole number, not {raw!r}"
            ) from None
    if declared in ("float", float) and not isinstance(raw, int | float):
        try:
            return float(str(raw))
        except ValueError:
            raise ConfigError(f"{PREFIX}{name.upper()} must be a number, not {raw!r}") from None
    if declared in ("bool", bool) and not isinstance(raw, bool):
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{PREFIX}{name.upper()} must be true or false, not {raw!r}")
    if declared in ("Path", Path) and not isinstance(raw, Path):
        return Path(str(raw))
    return raw
