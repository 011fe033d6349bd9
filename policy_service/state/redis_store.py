"""The Redis state store: the semantics of MemoryStore, shared by every worker and instance."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from redis.backoff import EqualJitterBackoff
from redis.retry import Retry

from policy_service.errors import StoreUnavailable
from policy_service.events import is_valid_id
from policy_service.state import (
    DEDUP_SECONDS,
    PENDING_SECONDS,
    TRANSITIONS_KEPT,
    Observation,
    Observed,
)
from policy_service.state.levels import COUNTERS, derive
from policy_service.state.memory import (
    HOUR_MS,
    MAX_PER_AUTHOR,
    MAX_PER_THREAD,
    MINUTE_MS,
    empty_account_state,
    from_ms,
    iso,
    to_ms,
)

if TYPE_CHECKING:
    from redis.client import Pipeline

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PREFIX = "policy:"
STATE_TTL_SECONDS = 30 * 86400  # meta, rings, transitions: an account silent for a month is new
RECENT_TTL_SECONDS = 25 * 3600  # multipliers, authors, threads: nothing older than 24 h counts
# A request's whole budget is a few of these; a slow Redis must not hold a decision up.
SOCKET_TIMEOUT_SECONDS = 0.25
HEALTH_CHECK_SECONDS = 30
RETRIES = 2
BREAKER_PAUSE_SECONDS = 1.0
# The rings' sizes and widths; OBSERVE_LUA spells the same numbers.
MINUTE_RING = (60, MINUTE_MS)
HOUR_RING = (24, HOUR_MS)

OBSERVE_LUA = """
-- Observe one event of one account: deduplicate, count, move the crisis level, snapshot.
-- The level machine and the derived fields mirror policy_service/state/levels.py.
-- KEYS[1] meta           hash: wm, level, since, hold, cstart (times in ms)
-- KEYS[2] ring:m         hash: slot -> "bucket,volume,negative,hostile,positive,multiplier,non_customer"
-- KEYS[3] ring:h         the same for the 24 one-hour buckets
-- KEYS[4] mult           sorted set: multiplier author -> time of their last negative comment
-- KEYS[5] tr             list: "from to at_ms", newest first
-- KEYS[6] ev:<event_id>  string: the decision given, "" while pending
-- KEYS[7] an:<author>    sorted set: event id -> time, the author's negative comments
-- KEYS[8] tn:<thread>    sorted set: event id -> time (absent when the comment has no thread)
-- ARGV[1] event time (ms)   ARGV[2] event id   ARGV[3] author id   ARGV[4] tone
-- ARGV[5] "1" when the author is a multiplier  ARGV[6] "1" when the author is not a customer
-- ARGV[7] crisis rules, JSON: {"watch": cond|null, "crisis": cond|null, "cool_down": seconds}
-- ARGV[8] state TTL (ms)    ARGV[9] recent-activity TTL (ms)   ARGV[10] pending TTL (ms)
-- ARGV[11] author times kept   ARGV[12] thread times kept   ARGV[13] transitions kept
-- Returns {"new"|"seen", decision ("" when new or pending), watermark, level, crisis start,
--   1 h: volume, negative, hostile, positive, multiplier, non_customer; 24 h volume,
--   multipliers_1h, author_negative_24h, thread_negative_1h, then from, to, at per transition}
local HOUR, DAY = 3600000, 86400000
local meta, ring_m, ring_h, mult, tr, ev, an, tn =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local at = tonumber(ARGV[1])

-- integral numbers as text: tostring would write large ones in exponent form
local function int(x) return string.format('%.0f', x) end

local function parse_slot(raw)
  local c = {}
  for n in string.gmatch(raw, '[^,]+') do c[#c + 1] = tonumber(n) end
  return c
end

local function ring_add(key, size, width, wm, adds)
  local bucket = math.floor(at / width)
  if bucket <= math.floor(wm / width) - size then return end -- the window no longer covers it
  local slot = bucket % size
  local raw = redis.call('HGET', key, int(slot))
  local c = raw and parse_slot(raw) or nil
  if c == nil or c[1] ~= bucket then c = {bucket, 0, 0, 0, 0, 0, 0} end
  local out = {int(bucket)}
  for i = 1, 6 do out[i + 1] = int(c[i + 1] + adds[i]) end
  redis.call('HSET', key, int(slot), table.concat(out, ','))
end

local function ring_totals(key, size, width, wm)
  local newest = math.floor(wm / width)
  local t = {0, 0, 0, 0, 0, 0}
  local all = redis.call('HGETALL', key)
  for i = 2, #all, 2 do
    local c = parse_slot(all[i])
    if newest - size < c[1] and c[1] <= newest then
      for j = 1, 6 do t[j] = t[j] + c[j + 1] end
    end
  end
  return t
end

local function rounded(x) return math.floor(x * 1000 + 0.5) / 1000 end

local function holds(c, f)
  if c == nil or c == cjson.null then return false end
  local kind = c[1]
  if kind == 'all' then
    for _, item in ipairs(c[2]) do if not holds(item, f) then return false end end
    return true
  elseif kind == 'any' then
    for _, item in ipairs(c[2]) do if holds(item, f) then return true end end
    return false
  elseif kind == 'not' then
    return not holds(c[2], f)
  end
  local v, op, x = f[c[2]], c[3], c[4]
  if v == nil then return false end
  if op == 'eq' then return v == x
  elseif op == 'ne' then return v ~= x
  elseif op == 'gt' then return v > x
  elseif op == 'gte' then return v >= x
  elseif op == 'lt' then return v < x
  elseif op == 'lte' then return v <= x
  elseif op == 'between' then return x[1] <= v and v <= x[2]
  elseif op == 'in' or op == 'not_in' then
    local found = false
    for _, item in ipairs(x) do if item == v then found = true end end
    return found == (op == 'in')
  end
  error('unknown operator ' .. tostring(op))
end

local m = redis.call('HMGET', meta, 'wm', 'level', 'since', 'hold', 'cstart')
local st = {wm = tonumber(m[1]) or 0, level = m[2] or 'calm', since = tonumber(m[3]) or 0,
            hold = tonumber(m[4]) or 0, cstart = tonumber(m[5]) or 0}

local function snapshot(wm)
  local t1 = ring_totals(ring_m, 60, 60000, wm)
  local t24 = ring_totals(ring_h, 24, HOUR, wm)
  local out = {t1[1], t1[2], t1[3], t1[4], t1[5], t1[6], t24[1],
               redis.call('ZCOUNT', mult, '(' .. int(wm - HOUR), '+inf'),
               redis.call('ZCOUNT', an, '(' .. int(wm - DAY), '+inf'), 0}
  if tn then out[10] = redis.call('ZCOUNT', tn, '(' .. int(wm - HOUR), '+inf') end
  return out
end

local function reply(status, decision, counts, moves)
  local r = {status, decision, st.wm, st.level, st.cstart}
  for _, n in ipairs(counts) do r[#r + 1] = n end
  for _, mv in ipairs(moves) do
    r[#r + 1] = mv[1]; r[#r + 1] = mv[2]; r[#r + 1] = mv[3]
  end
  return r
end

local seen = redis.call('GET', ev)
if seen then return reply('seen', seen, snapshot(st.wm), {}) end
redis.call('SET', ev, '', 'PX', ARGV[10])

-- count the event
st.wm = math.max(st.wm, at)
local tone = ARGV[4]
local negative = tone == 'negative' or tone == 'hostile'
local function flag(b) if b then return 1 end return 0 end
local adds = {1, flag(negative), flag(tone == 'hostile'), flag(tone == 'positive'),
              flag(ARGV[5] == '1'), flag(ARGV[6] == '1')}
ring_add(ring_m, 60, 60000, st.wm, adds)
ring_add(ring_h, 24, HOUR, st.wm, adds)
if negative then
  if ARGV[5] == '1' then redis.call('ZADD', mult, 'GT', int(at), ARGV[3]) end
  redis.call('ZADD', an, int(at), ARGV[2])
  redis.call('ZREMRANGEBYRANK', an, 0, -(tonumber(ARGV[11]) + 1))
  redis.call('PEXPIRE', an, ARGV[9])
  if tn then
    redis.call('ZADD', tn, int(at), ARGV[2])
    redis.call('ZREMRANGEBYRANK', tn, 0, -(tonumber(ARGV[12]) + 1))
    redis.call('PEXPIRE', tn, ARGV[9])
  end
end
redis.call('ZREMRANGEBYSCORE', mult, '-inf', int(st.wm - DAY))

-- the fields the conditions read, as levels.derive computes them
local counts = snapshot(st.wm)
local volume = counts[1]
local f = {volume_1h = volume, negative_1h = counts[2], hostile_1h = counts[3],
           positive_1h = counts[4], negative_share_1h = 0, non_customer_share_1h = 0,
           volume_24h = counts[7], multipliers_1h = counts[8], author_negative_24h = counts[9],
           thread_negative_1h = counts[10], crisis_level = st.level}
if volume > 0 then
  f.negative_share_1h = rounded(counts[2] / volume)
  f.non_customer_share_1h = rounded(counts[6] / volume)
end
f.velocity = rounded(volume / math.max(math.max(counts[7] - volume, 0) / 23, 1))

-- move the level: levels.advance
local rules = cjson.decode(ARGV[7])
local now, cool = st.wm, tonumber(rules.cool_down) * 1000
local moves = {}
local function move(to, when)
  moves[#moves + 1] = {st.level, to, when}
  st.level, st.since, st.hold = to, when, when
  if to == 'crisis' then st.cstart = when end
end
local in_crisis, in_watch = holds(rules.crisis, f), holds(rules.watch, f)
if in_crisis then
  if st.level ~= 'crisis' then move('crisis', now) end
  st.hold = now
elseif st.level == 'calm' then
  if in_watch then move('watch', now) end
elseif (st.level == 'watch' or st.level == 'recovery') and in_watch then
  st.hold = now
else
  for _ = 1, 2 do
    local due = st.hold + cool
    if st.level == 'calm' or due > now then break end
    if st.level == 'crisis' then move('recovery', due) else move('calm', due) end
    if st.level == 'recovery' and in_watch then
      st.hold = now
      break
    end
  end
end

for _, mv in ipairs(moves) do redis.call('LPUSH', tr, mv[1] .. ' ' .. mv[2] .. ' ' .. int(mv[3])) end
if #moves > 0 then redis.call('LTRIM', tr, 0, tonumber(ARGV[13]) - 1) end
redis.call('HSET', meta, 'wm', int(st.wm), 'level', st.level, 'since', int(st.since),
           'hold', int(st.hold), 'cstart', int(st.cstart))
-- every key keeps a TTL, refreshed while the account is active
for _, key in ipairs({meta, ring_m, ring_h, tr}) do redis.call('PEXPIRE', key, ARGV[8]) end
redis.call('PEXPIRE', mult, ARGV[9])
return reply('new', '', counts, moves)
"""


class Keys:
    """Key names under one prefix; each carries its account as the hash tag `{account}`.

    Ids are checked here, the one place they become key names, so that no
    caller can smuggle a brace or a separator into another account's keys.
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def _account(self, account: str) -> str:
        return f"{self.prefix}{{{_checked('account', account)}}}"

    def meta(self, account: str) -> str:
        return f"{self._account(account)}:meta"

    def minutes(self, account: str) -> str:
        return f"{self._account(account)}:ring:m"

    def hours(self, account: str) -> str:
        return f"{self._account(account)}:ring:h"

    def multipliers(self, account: str) -> str:
        return f"{self._account(account)}:mult"

    def author(self, account: str, author_id: str) -> str:
        return f"{self._account(account)}:an:{_checked('author', author_id)}"

    def thread(self, account: str, thread_id: str) -> str:
        return f"{self._account(account)}:tn:{_checked('thread', thread_id)}"

    def event(self, account: str, event_id: str) -> str:
        return f"{self._account(account)}:ev:{_checked('event', event_id)}"

    def transitions(self, account: str) -> str:
        return f"{self._account(account)}:tr"


def _checked(kind: str, value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(f"invalid {kind} id {value!r}: 1-64 letters, digits or . _ : -")
    return value


class CircuitBreaker:
    """After a failure, calls fail at once for a pause; then Redis is tried again.

    Without it every request during an outage would wait for its own
    timeouts. Thread-safe; a success closes it.
    """

    def __init__(
        self,
        pause_seconds: float = BREAKER_PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pause = pause_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._reason = ""

    def check(self) -> None:
        """Raise StoreUnavailable while the breaker is open."""
        with self._lock:
            if self._clock() < self._open_until:
                raise StoreUnavailable(f"redis unavailable, not retried yet: {self._reason}")

    def is_open(self) -> bool:
        with self._lock:
            return self._clock() < self._open_until

    def failed(self, reason: str) -> None:
        with self._lock:
            was_closed = not self._reason
            self._open_until = self._clock() + self._pause
            self._reason = reason
        if was_closed:
            log.warning(
                "redis unavailable (%s); failing fast, retrying every %.1f s", reason, self._pause
            )

    def succeeded(self) -> None:
        with self._lock:
            was_open = bool(self._reason)
            self._open_until = 0.0
            self._reason = ""
        if was_open:
            log.warning("redis available again")


class RedisStore:
    """Per-account state in Redis: one Lua script per event, one SET per decision.

    The client must decode responses (`decode_responses=True`); build one per
    process with `RedisStore.from_url`.
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = DEFAULT_PREFIX,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        self._keys = Keys(prefix)
        self._breaker = breaker or CircuitBreaker()
        self._observe = client.register_script(OBSERVE_LUA)

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        """A store on a new client for `url` (redis://host:port/db), with short timeouts."""
        # Only connection errors are retried: a command that timed out may have
        # run, and the observe script must not count an event twice.
        retry = Retry(
            EqualJitterBackoff(cap=0.05, base=0.01),
            RETRIES,
            supported_errors=(redis.ConnectionError,),
        )
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry=retry,
            health_check_interval=HEALTH_CHECK_SECONDS,
            client_name="policy-service",
        )
        return cls(client, prefix)

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    def _run(self, what: str, call: Callable[[], T]) -> T:
        self._breaker.check()
        try:
            result = call()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._breaker.failed(f"{type(exc).__name__}: {exc}")
            raise StoreUnavailable(f"redis {what} failed: {exc}") from exc
        except redis.RedisError as exc:
            # Redis answered, with an error (out of memory, read-only replica,
            # ...): no reason to stop trying, but no state either.
            raise StoreUnavailable(f"redis {what} failed: {exc}") from exc
        self._breaker.succeeded()
        return result

    def observe(self, observation: Observation) -> Observed:
        obs = observation
        k = self._keys
        keys = [
            k.meta(obs.account),
            k.minutes(obs.account),
            k.hours(obs.account),
            k.multipliers(obs.account),
            k.transitions(obs.account),
            k.event(obs.account, obs.event_id),
            k.author(obs.account, obs.author_id),
        ]
        if obs.thread_id is not None:
            keys.append(k.thread(obs.account, obs.thread_id))
        args: list[str | int] = [
            to_ms(obs.at),
            obs.event_id,
            obs.author_id,
            obs.tone,
            "1" if obs.is_multiplier else "0",
            "1" if obs.is_customer is False else "0",
            obs.crisis.as_json,
            STATE_TTL_SECONDS * 1000,
            RECENT_TTL_SECONDS * 1000,
            PENDING_SECONDS * 1000,
            MAX_PER_AUTHOR,
            MAX_PER_THREAD,
            TRANSITIONS_KEPT,
        ]
        reply: list[Any] = self._run("observe", lambda: self._observe(keys=keys, args=args))
        return _observed(reply)

    def record(self, account: str, event_id: str, decision: Mapping[str, Any]) -> None:
        key = self._keys.event(account, event_id)
        value = json.dumps(decision, separators=(",", ":"))
        self._run("record", lambda: self._client.set(key, value, ex=DEDUP_SECONDS))

    def wait_for_decision(
        self, account: str, event_id: str, timeout_seconds: float
    ) -> Mapping[str, Any] | None:
        key = self._keys.event(account, event_id)
        deadline = time.monotonic() + timeout_seconds
        pause = 0.01
        while True:
            value = self._run("wait", lambda: self._client.get(key))
            if value:
                found: dict[str, Any] = json.loads(value)
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.1)

    def account_state(self, account: str) -> dict[str, Any]:
        k = self._keys

        def read(pipe: Pipeline) -> list[Any]:
            pipe.hmget(k.meta(account), ["wm", "level", "since"])
            pipe.hgetall(k.minutes(account))
            pipe.hgetall(k.hours(account))
            pipe.lrange(k.transitions(account), 0, -1)
            return pipe.execute()

        meta, minutes, hours, transitions = self._run(
            "account state", lambda: read(self._client.pipeline(transaction=True))
        )
        if meta[0] is None:
            return empty_account_state(account)
        now, since = int(meta[0]), int(meta[2] or 0)
        return {
            "account": account,
            "crisis_level": meta[1] or "calm",
            "since": iso(since) if since else None,
            "as_of": iso(now),
            "windows": {
                "1h": ring_totals(minutes, now, *MINUTE_RING),
                "24h": ring_totals(hours, now, *HOUR_RING),
            },
            "transitions": [_transition(raw) for raw in transitions],
        }

    def ping(self) -> bool:
        if self._breaker.is_open():
            return False
        try:
            self._run("ping", self._client.ping)
        except StoreUnavailable:
            return False
        return True


def ring_totals(
    slots: Mapping[str, str], watermark_ms: int, size: int, width_ms: int
) -> dict[str, int]:
    """Sum the ring slots whose bucket the window covers.

    A slot is packed as "bucket,volume,negative,hostile,positive,multiplier,non_customer",
    the counters in the order of levels.COUNTERS.
    """
    newest = watermark_ms // width_ms
    total = dict.fromkeys(COUNTERS, 0)
    for packed in slots.values():
        bucket, *counts = (int(n) for n in packed.split(","))
        if newest - size < bucket <= newest:
            for name, count in zip(COUNTERS, counts, strict=True):
                total[name] += count
    return total


def _transition(raw: str) -> dict[str, str]:
    before, after, at_ms = raw.split(" ")
    return {"from": before, "to": after, "at": iso(int(at_ms))}


def _observed(reply: list[Any]) -> Observed:
    """The script's reply as an Observed, with the derived fields computed by levels.derive."""
    status, decision, _watermark, level, crisis_start = reply[:5]
    volume, negative, hostile, positive, multiplier, non_customer = reply[5:11]
    volume_24h, multipliers_1h, author_negative, thread_negative = reply[11:15]
    counts_1h = {
        "volume": volume,
        "negative": negative,
        "hostile": hostile,
        "positive": positive,
        "multiplier": multiplier,
        "non_customer": non_customer,
    }
    fields = derive(counts_1h, volume_24h)
    fields["multipliers_1h"] = multipliers_1h
    fields["author_negative_24h"] = author_negative
    fields["thread_negative_1h"] = thread_negative
    fields["crisis_level"] = level
    if status == "seen":
        if decision == "":
            return Observed(fields, pending=True)
        previous: dict[str, Any] = json.loads(decision)
        return Observed(fields, previous=previous)
    since = from_ms(int(crisis_start)) if level in ("crisis", "recovery") else None
    return Observed(fields, crisis_since=since)
