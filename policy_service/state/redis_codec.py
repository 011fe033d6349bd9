"""What the Redis store writes and reads: key names, the observe step's arguments and reply.

No I/O here, and no redis client: the store (redis_store) does the talking.
The keys, arguments and reply are made for every event, so this module is
compiled (docs/native.md); the account state's readers (ring_totals,
transition) are here because they read the same layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from policy_service.events import is_valid_id
from policy_service.state import ABANDONED, Observation, Observed, RailsSeen
from policy_service.state.levels import COUNTERS, derive_counts
from policy_service.state.memory import from_ms, iso, to_ms

DEFAULT_PREFIX = "policy:"


class Keys:
    """Key names under one prefix; each carries its account as the hash tag `{account}`.

    Ids are checked here, the one place they become key names, so that no
    caller can smuggle a brace or a separator into another account's keys.
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def _account(self, account: str) -> str:
        return f"{self.prefix}{{{checked_id('account', account)}}}"

    def meta(self, account: str) -> str:
        return f"{self._account(account)}:meta"

    def observe(self, obs: Observation) -> list[str]:
        """The observe script's keys, in the order redis_lua expects; each id checked once."""
        base = self._account(obs.account)
        author = checked_id("author", obs.author_id)
        keys = [
            f"{base}:meta",
            f"{base}:mult",
            f"{base}:tr",
            f"{base}:ev:{checked_id('event', obs.event_id)}",
            f"{base}:an:{author}",
        ]
        if obs.thread_id is not None:
            keys.append(f"{base}:tn:{checked_id('thread', obs.thread_id)}")
        if obs.rails:
            keys += (f"{base}:esc", f"{base}:aa:{author}")
        return keys

    def multipliers(self, account: str) -> str:
        return f"{self._account(account)}:mult"

    def author(self, account: str, author_id: str) -> str:
        return f"{self._account(account)}:an:{checked_id('author', author_id)}"

    def thread(self, account: str, thread_id: str) -> str:
        return f"{self._account(account)}:tn:{checked_id('thread', thread_id)}"

    def event(self, account: str, event_id: str) -> str:
        return f"{self._account(account)}:ev:{checked_id('event', event_id)}"

    def transitions(self, account: str) -> str:
        return f"{self._account(account)}:tr"

    def escalations(self, account: str) -> str:
        return f"{self._account(account)}:esc"

    def answered(self, account: str, author_id: str) -> str:
        return f"{self._account(account)}:aa:{checked_id('author', author_id)}"


def checked_id(kind: str, value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(f"invalid {kind} id {value!r}: 1-64 letters, digits or . _ : -")
    return value


def observe_args(obs: Observation) -> list[bytes | str | int]:
    """The observe script's ARGV for `obs`, in the order redis_lua expects."""
    limit = obs.limit
    return [
        to_ms(obs.at),
        obs.event_id,
        obs.author_id,
        obs.tone,
        "1" if obs.is_multiplier else "0",
        "1" if obs.is_customer is False else "0",
        "0" if obs.thread_id is None else "1",
        "1" if obs.rails else "0",
        obs.now_ms,
        0 if limit is None else limit.per_window,
        0 if limit is None else (obs.now_ms // limit.window_ms + 1) * limit.window_ms,
    ]


def observed(reply: str) -> Observed:
    """The script's reply as an Observed, with the derived fields computed as levels.derive does."""
    if reply.startswith("limited "):
        return Observed({}, retry_after_ms=int(reply[8:]))
    head, _, decision = reply.partition("\n")
    # "status level crisis_start", the ten counts, then with rails three more (redis_lua);
    # read by index: this parse runs for every event, and unpacking with `*` and `map`
    # made the whole of it half as dear again (36k instructions against 24k).
    parts = head.split(" ")
    if len(parts) not in (13, 16):
        raise ValueError(f"the observe script answered {head!r}: 13 or 16 fields expected")
    status, level = parts[0], parts[1]
    fields = derive_counts(
        int(parts[3]), int(parts[4]), int(parts[5]), int(parts[6]), int(parts[8]), int(parts[9])
    )
    # parts[7], the hour's comments by multipliers, is no field (as in levels.derive):
    # the rules read multipliers_1h, the distinct multipliers who were negative
    fields["multipliers_1h"] = int(parts[10])
    fields["author_negative_24h"] = int(parts[11])
    fields["thread_negative_1h"] = int(parts[12])
    fields["crisis_level"] = level
    rails = rails_seen(parts[13:]) if len(parts) > 13 else None
    since = from_ms(int(parts[2])) if level in ("crisis", "recovery") else None
    if status == "seen":
        if decision == ABANDONED:
            return Observed(fields, retry=True, crisis_since=since, rails=rails)
        if decision == "":
            return Observed(fields, pending=True, crisis_since=since, rails=rails)
        previous: dict[str, Any] = orjson.loads(decision)
        return Observed(fields, previous=previous)
    return Observed(fields, crisis_since=since, rails=rails)


def rails_seen(parts: list[str]) -> RailsSeen:
    count, newest, answered = parts
    return RailsSeen(
        escalations_1h=int(count),
        open_escalation=None if newest == "-" else newest,
        author_answered_ms=None if answered == "-" else int(answered),
    )


def ring_totals(
    meta: Mapping[str, str], prefix: str, watermark_ms: int, size: int, width_ms: int
) -> dict[str, int]:
    """Sum the ring's slots (the fields of `meta` named `prefix` + slot) that the window covers.

    A slot is packed as "bucket,volume,negative,hostile,positive,multiplier,non_customer",
    the counters in the order of levels.COUNTERS.
    """
    newest = watermark_ms // width_ms
    total = dict.fromkeys(COUNTERS, 0)
    for name, packed in meta.items():
        if not name.startswith(prefix):
            continue
        bucket, *counts = (int(n) for n in packed.split(","))
        if newest - size < bucket <= newest:
            for name, count in zip(COUNTERS, counts, strict=True):
                total[name] += count
    return total


def transition(raw: str) -> dict[str, str]:
    before, after, at_ms = raw.split(" ")
    return {"from": before, "to": after, "at": iso(int(at_ms))}
