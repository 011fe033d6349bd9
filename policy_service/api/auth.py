"""Access control: bearer tokens from a YAML file, each with its scopes.

The file (POLICY_TOKENS_FILE) holds the secrets; rule files and logs never do.

    tokens:
      - name: moderation-bot
        token: "a long random string"
        scopes: [decide, read]

Only SHA-256 digests of the tokens are kept. A presented token is hashed and
compared with `hmac.compare_digest` against every configured digest, without
stopping at a match, so the time taken does not tell which token (or how much
of one) matched. Several tokens may be valid at once: rotating a token is
adding the new one, moving the callers, removing the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from policy_service.errors import ConfigError, RuleFileError
from policy_service.ruleset.source import LocDict, LocList, Pos, parse_yaml

log = logging.getLogger(__name__)

SCOPES = ("decide", "read", "admin")
MIN_TOKEN_LENGTH = 16
_TOKEN_KEYS = {"name", "token", "scopes"}
_Report = Callable[[Pos, str], None]


@dataclass(frozen=True)
class Caller:
    """Who a valid token belongs to."""

    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    caller: Caller


class AuthError(Exception):
    """Why a request is not let through: 401 (no valid token) or 403 (missing scope)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class TokenRegistry:
    """The configured tokens (as digests) and their scopes."""

    def __init__(self, entries: list[tuple[str, str, frozenset[str]]]) -> None:
        self._entries = [
            _Entry(_digest(token), Caller(name, scopes)) for name, token, scopes in entries
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def identify(self, token: str) -> Caller | None:
        """The caller owning `token`, or None; time independent of which entry matches."""
        presented = _digest(token)
        found: Caller | None = None
        for entry in self._entries:
            # No early exit: every digest is compared whatever matched before.
            if hmac.compare_digest(presented, entry.digest):
                found = entry.caller
        return found

    def authorize(self, authorization: str | None, scope: str) -> Caller:
        """The caller for an `Authorization` header value if it holds `scope`; AuthError if not."""
        if not authorization:
            raise AuthError(401, "This endpoint needs a bearer token (Authorization: Bearer ...).")
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise AuthError(401, "Send the token as 'Authorization: Bearer <token>'.")
        caller = self.identify(token.strip())
        if caller is None:
            raise AuthError(401, "The bearer token is not valid.")
        if scope not in caller.scopes:
            raise AuthError(403, f"The token {caller.name!r} lacks the {scope!r} scope.")
        return caller


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def load_tokens(path: Path) -> TokenRegistry:
    """Read and validate a tokens file; ConfigError listing every problem with its line."""
    label = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"POLICY_TOKENS_FILE {label}: cannot read it ({exc.strerror})") from None
    try:
        doc = parse_yaml(data, label)
    except RuleFileError as exc:
        raise ConfigError("invalid tokens file:\n" + str(exc)) from None
    problems: list[str] = []

    def problem(pos: Pos, message: str) -> None:
        problems.append(f"{label}:{pos.line}:{pos.column}: error: {message}")

    top = Pos(1, 1)
    entries: list[tuple[str, str, frozenset[str]]] = []
    if not isinstance(doc, LocDict) or set(doc) != {"tokens"}:
        problem(
            doc.pos if isinstance(doc, LocDict) else top,
            "the file must be a mapping with one key, tokens: a list of {name, token, scopes}",
        )
    elif not isinstance(doc["tokens"], LocList) or not doc["tokens"]:
        problem(doc.value_pos["tokens"], "tokens must be a non-empty list")
    else:
        names: set[str] = set()
        digests: set[bytes] = set()
        items: LocList = doc["tokens"]
        for item, pos in zip(items, items.item_pos, strict=True):
            entry = _check_entry(item, pos, problem)
            if entry is None:
                continue
            name, token, scopes = entry
            if name in names:
                problem(pos, f"the name {name!r} is used twice")
            if _digest(token) in digests:
                # Never echo the token itself, not even in an error.
                problem(pos, f"the token of {name!r} is also given to another name")
            names.add(name)
            digests.add(_digest(token))
            entries.append(entry)
    if problems:
        raise ConfigError("invalid tokens file:\n" + "\n".join(problems))
    return TokenRegistry(entries)


def _check_entry(
    item: object, pos: Pos, problem: _Report
) -> tuple[str, str, frozenset[str]] | None:
    if not isinstance(item, LocDict):
        problem(pos, "each entry must be a mapping {name, token, scopes}")
        return None
    ok = True
    for key in sorted(set(item) - _TOKEN_KEYS):
        problem(item.key_pos[key], f"unknown key {key!r} (expected name, token, scopes)")
        ok = False
    for key in sorted(_TOKEN_KEYS - set(item)):
        problem(item.pos, f"missing key {key!r}")
        ok = False
    if not ok:
        return None
    name, token, scopes = item["name"], item["token"], item["scopes"]
    if not isinstance(name, str) or not name.strip():
        problem(item.value_pos["name"], "name must be a non-empty string")
        ok = False
    if not isinstance(token, str):
        problem(item.value_pos["token"], "token must be a string (quote it)")
        ok = False
    elif len(token) < MIN_TOKEN_LENGTH:
        problem(
            item.value_pos["token"],
            f"token is {len(token)} characters; at least {MIN_TOKEN_LENGTH} are required",
        )
        ok = False
    if not isinstance(scopes, LocList) or not scopes:
        problem(item.value_pos["scopes"], f"scopes must be a non-empty list of {', '.join(SCOPES)}")
        return None
    for scope, scope_pos in zip(scopes, scopes.item_pos, strict=True):
        if scope not in SCOPES:
            problem(scope_pos, f"unknown scope {scope!r} (known: {', '.join(SCOPES)})")
            ok = False
    if not ok:
        return None
    return str(name), str(token), frozenset(str(s) for s in scopes)


@dataclass(frozen=True)
class Access:
    """What the API enforces: the tokens (None: access control off) and the /metrics choice."""

    registry: TokenRegistry | None
    metrics_public: bool = True

    def required_scope(self, endpoint: str | None) -> str | None:
        """The scope a view needs, or None for the open ones; AuthError for any other view.

        Deny by default: a view neither scoped nor listed open is refused to
        everyone, even with access control off (create_app also refuses to
        start with one, see check_classified).
        """
        if endpoint is None or endpoint in OPEN_ENDPOINTS:
            # None: no view matched; the 404 or 405 answer reveals nothing.
            return None
        if endpoint == "api.metrics" and self.metrics_public:
            return None
        scope = ENDPOINT_SCOPES.get(endpoint)
        if scope is None:
            raise AuthError(403, "This endpoint is open to no one: no scope covers it.")
        return scope


# Every view of the API by scope, and the views open to anyone. A view in
# neither is refused (Access.required_scope) and stops the start.
ENDPOINT_SCOPES: dict[str, str] = {
    "api.decide_one": "decide",
    "api.decide_batch": "decide",
    "api.account_state": "read",
    "api.rulesets": "read",
    "api.metrics": "read",
    "api.reload_rules": "admin",
    "api.shadow_report": "admin",
    "api.capture_status": "admin",
}
OPEN_ENDPOINTS = frozenset({"api.healthz", "api.readyz", "api.openapi"})


def check_classified(endpoints: Iterable[str]) -> None:
    """ConfigError naming every endpoint that is neither scoped nor open."""
    unclassified = sorted(
        {e for e in endpoints if e not in ENDPOINT_SCOPES and e not in OPEN_ENDPOINTS}
    )
    if unclassified:
        raise ConfigError(
            "endpoints without access rule (add them to ENDPOINT_SCOPES or OPEN_ENDPOINTS "
            f"in policy_service/api/auth.py): {', '.join(unclassified)}"
        )


def registry_from_settings(
    tokens_file: str, dev_no_auth: bool, rules_dir: Path | None = None
) -> TokenRegistry | None:
    """The token registry to enforce, or None when access control is off (dev only).

    A tokens file always wins. Without one the service refuses to start unless
    POLICY_DEV_NO_AUTH is true, and then it says loudly that it is open.
    """
    if tokens_file:
        if rules_dir is not None and Path(tokens_file).resolve().is_relative_to(
            rules_dir.resolve()
        ):
            # Rule files are shared, reviewed and shown; secrets must not sit among them.
            raise ConfigError(
                f"POLICY_TOKENS_FILE {tokens_file} is inside the rules directory {rules_dir}; "
                "keep tokens apart from the rule files"
            )
        registry = load_tokens(Path(tokens_file))
        log.info("access control on: %d token(s) from %s", len(registry), tokens_file)
        return registry
    if not dev_no_auth:
        raise ConfigError(
            "no POLICY_TOKENS_FILE: the API would be open to anyone. Set POLICY_TOKENS_FILE "
            "to a tokens file (see README, Access control), or POLICY_DEV_NO_AUTH=true for "
            "local development only."
        )
    log.warning(
        "ACCESS CONTROL IS OFF (POLICY_DEV_NO_AUTH=true): every endpoint is open to anyone "
        "who can reach this port. Never run like this in production."
    )
    return None
