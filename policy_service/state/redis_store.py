"""The Redis state store: the semantics of MemoryStore, shared by every worker and instance."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import redis
from redis.backoff import EqualJitterBackoff
from redis.retry import Retry

from policy_service.errors import StoreUnavailable
from policy_service.events import is_valid_id
from policy_service.state import (
    ABANDONED,
    DEDUP_SECONDS,
    ESCALATION_WINDOW_MS,
    PENDING_SECONDS,
    TRANSITIONS_KEPT,
    UNFOLDED,
    Observation,
    Observed,
    RailsMarks,
    RailsSeen,
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
    from redis.connection import AbstractConnection

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
# Rate-limit and rails keys outlive their use a little (they are named by window or
# compared with the clock); the TTL only cleans up.
LIMIT_TTL_MARGIN_MS = 1000

# The numbers the observe script needs besides the event: written into its
# source once, so that they are not sent and parsed with every event.
_OBSERVE_CONSTANTS = f"""
local STATE_TTL, RECENT_TTL = {STATE_TTL_SECONDS * 1000}, {RECENT_TTL_SECONDS * 1000}
local PENDING_TTL, TRANSITIONS_KEPT = {PENDING_SECONDS * 1000}, {TRANSITIONS_KEPT}
local AUTHOR_KEPT, THREAD_KEPT = {MAX_PER_AUTHOR}, {MAX_PER_THREAD}
local ESCALATION_WINDOW, LIMIT_TTL_MARGIN = {ESCALATION_WINDOW_MS}, {LIMIT_TTL_MARGIN_MS}
"""

OBSERVE_LUA = (
    """
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
-- Only with a rate limit or rails (absent otherwise):
-- ARGV[8] the service's clock (ms)  ARGV[9] new events allowed per window
-- ARGV[10] ms until the window ends  ARGV[11] index in KEYS of rl:<window> (0: no limit)
-- ARGV[12] index in KEYS of esc, aa:<author> follows it (0: no rails)
-- Returns one string (one bulk reply is the cheapest for the client to read):
--   "new|seen level crisis_start volume negative hostile positive multiplier non_customer
--   volume_24h multipliers_1h author_negative_24h thread_negative_1h", the 1 h counters
--   first, then with rails "escalations_1h open_escalation|- author_answered_ms|-"; for a
--   seen event a newline and the decision it got ("" while pending) follow. A new event
--   the rate limit refuses gets "limited <ms until the window ends>" and is not counted.
"""
    + _OBSERVE_CONSTANTS
    + """
local HOUR, DAY = 3600000, 86400000
local meta, ring_m, ring_h, mult, tr, ev, an, tn =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local at = tonumber(ARGV[1])
local now = tonumber(ARGV[8] or '0')
local limit_at, rails_at = tonumber(ARGV[11] or '0'), tonumber(ARGV[12] or '0')
-- rate-limit and rails keys follow the event's own: without a thread, KEYS[8] is theirs
local first_extra = limit_at > 0 and limit_at or rails_at
if first_extra == 8 then tn = nil end

-- integral numbers as text: tostring would write large ones in exponent form
local function int(x) return string.format('%.0f', x) end

local SLOT = '^(-?%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+)$'

-- The counters of the window of `wm` in one ring, read with one HGETALL. With
-- `adds`, the event is counted first in its bucket (unless the window no longer
-- covers it), and the one slot that changed is written back.
local function ring(key, size, width, wm, adds)
  local newest = math.floor(wm / width)
  local oldest = newest - size
  local t1, t2, t3, t4, t5, t6 = 0, 0, 0, 0, 0, 0
  local bucket, slot
  if adds then
    bucket = math.floor(at / width)
    if bucket > oldest then slot = int(bucket % size) end
  end
  local all = redis.call('HGETALL', key)
  local found = false
  for i = 1, #all, 2 do
    local b, v, n, h, p, m, x = string.match(all[i + 1], SLOT)
    b = tonumber(b)
    if all[i] == slot then
      found = true
      if b ~= bucket then b, v, n, h, p, m, x = bucket, 0, 0, 0, 0, 0, 0 end
      v, n, h, p, m, x = v + adds[1], n + adds[2], h + adds[3], p + adds[4], m + adds[5],
                         x + adds[6]
      redis.call('HSET', key, slot, table.concat({int(b), int(v), int(n), int(h), int(p),
                                                  int(m), int(x)}, ','))
    end
    if oldest < b and b <= newest then
      t1, t2, t3, t4, t5, t6 = t1 + v, t2 + n, t3 + h, t4 + p, t5 + m, t6 + x
    end
  end
  if slot and not found then
    redis.call('HSET', key, slot, table.concat({int(bucket), adds[1], adds[2], adds[3], adds[4],
                                                adds[5], adds[6]}, ','))
    t1, t2, t3, t4, t5, t6 = t1 + adds[1], t2 + adds[2], t3 + adds[3], t4 + adds[4],
                             t5 + adds[5], t6 + adds[6]
  end
  return {t1, t2, t3, t4, t5, t6}
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

-- the snapshot at the watermark: both rings, then the sorted sets
local function snapshot(wm, adds)
  local t1 = ring(ring_m, 60, 60000, wm, adds)
  local t24 = ring(ring_h, 24, HOUR, wm, adds)
  return {t1[1], t1[2], t1[3], t1[4], t1[5], t1[6], t24[1]}
end

local function recent(counts, wm)
  counts[8] = redis.call('ZCOUNT', mult, '(' .. int(wm - HOUR), '+inf')
  counts[9] = redis.call('ZCOUNT', an, '(' .. int(wm - DAY), '+inf')
  counts[10] = 0
  if tn then counts[10] = redis.call('ZCOUNT', tn, '(' .. int(wm - HOUR), '+inf') end
  return counts
end

-- the rails' state: escalations not folded within the hour before now, the newest of
-- them, and when this author was last answered (RECORD_RAILS_LUA writes them)
local function rails(r)
  local esc = KEYS[rails_at]
  local since = '(' .. int(now - ESCALATION_WINDOW)
  r[#r + 1] = redis.call('ZCOUNT', esc, since, '+inf')
  r[#r + 1] = redis.call('ZREVRANGEBYSCORE', esc, '+inf', since, 'LIMIT', 0, 1)[1] or '-'
  r[#r + 1] = redis.call('GET', KEYS[rails_at + 1]) or '-'
end

local function reply(status, counts)
  local r = {status, st.level, int(st.cstart)}
  for i = 1, 10 do r[i + 3] = int(counts[i]) end
  if rails_at > 0 then rails(r) end
  return table.concat(r, ' ')
end

local seen = redis.call('GET', ev)
if seen then return reply('seen', recent(snapshot(st.wm), st.wm)) .. '\\n' .. seen end
if limit_at > 0 then
  -- the account's rate limit: a refused event is not counted, not even in the limit
  local used = tonumber(redis.call('GET', KEYS[limit_at]) or '0')
  if used >= tonumber(ARGV[9]) then return 'limited ' .. ARGV[10] end
  redis.call('INCR', KEYS[limit_at])
  if used == 0 then redis.call('PEXPIRE', KEYS[limit_at], tonumber(ARGV[10]) + LIMIT_TTL_MARGIN) end
end
redis.call('SET', ev, '', 'PX', PENDING_TTL)

-- count the event
st.wm = math.max(st.wm, at)
local tone = ARGV[4]
local negative = tone == 'negative' or tone == 'hostile'
local function flag(b) if b then return 1 end return 0 end
local adds = {1, flag(negative), flag(tone == 'hostile'), flag(tone == 'positive'),
              flag(ARGV[5] == '1'), flag(ARGV[6] == '1')}
local counts = snapshot(st.wm, adds)
if negative then
  if ARGV[5] == '1' then redis.call('ZADD', mult, 'GT', int(at), ARGV[3]) end
  redis.call('ZADD', an, int(at), ARGV[2])
  redis.call('ZREMRANGEBYRANK', an, 0, -(AUTHOR_KEPT + 1))
  redis.call('PEXPIRE', an, RECENT_TTL)
  if tn then
    redis.call('ZADD', tn, int(at), ARGV[2])
    redis.call('ZREMRANGEBYRANK', tn, 0, -(THREAD_KEPT + 1))
    redis.call('PEXPIRE', tn, RECENT_TTL)
  end
end
redis.call('ZREMRANGEBYSCORE', mult, '-inf', int(st.wm - DAY))
recent(counts, st.wm)

-- the fields the conditions read, as levels.derive computes them
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
if #moves > 0 then redis.call('LTRIM', tr, 0, TRANSITIONS_KEPT - 1) end
redis.call('HSET', meta, 'wm', int(st.wm), 'level', st.level, 'since', int(st.since),
           'hold', int(st.hold), 'cstart', int(st.cstart))
-- every key keeps a TTL, refreshed while the account is active
for _, key in ipairs({meta, ring_m, ring_h, tr}) do redis.call('PEXPIRE', key, STATE_TTL) end
redis.call('PEXPIRE', mult, RECENT_TTL)
return reply('new', counts)
"""
)


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

    def limit(self, account: str, window: int) -> str:
        return f"{self._account(account)}:rl:{window}"

    def escalations(self, account: str) -> str:
        return f"{self._account(account)}:esc"

    def answered(self, account: str, author_id: str) -> str:
        return f"{self._account(account)}:aa:{_checked('author', author_id)}"


def _packed(args: tuple[str | bytes | int, ...]) -> bytes:
    """A command in the Redis protocol: the bytes redis-py's packer writes, at half its cost."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


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


class _Pinned(threading.local):
    """The connection a thread keeps for the decision path, and the process it belongs to."""

    connection: AbstractConnection | None = None
    pid = 0


class RedisStore:
    """Per-account state in Redis: one Lua script per event, one SET per decision.

    The client must decode responses (`decode_responses=True`); build one per
    process with `RedisStore.from_url`.

    The two commands of every decision (the observe script, the record) go
    over a connection each thread takes from the client's pool once and keeps:
    redis-py's per-command path (borrowing from the pool and checking the
    connection with extra system calls, its retry and metrics wrappers) costs
    as much client CPU as the command itself. The connection's own error
    handling is kept: it disconnects on any error, so a reply that comes too
    late is never read as the answer to the next command, and the next command
    connects again; connection errors are retried as the client's commands are.
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
        self._script = client.register_script(OBSERVE_LUA)
        self._abandon = client.register_script(ABANDON_LUA)
        self._record_rails = client.register_script(RECORD_RAILS_LUA)
        self._pinned = _Pinned()

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
        """Close the client's connections (the pinned ones too: the next call connects again)."""
        self._client.close()

    def _connection(self) -> AbstractConnection:
        pinned = self._pinned
        connection = pinned.connection
        if connection is None or pinned.pid != os.getpid():
            # New thread, or a forked child: the parent's socket is not ours to use.
            connection = self._client.connection_pool.get_connection()
            pinned.connection, pinned.pid = connection, os.getpid()
        return connection

    def _command(self, *args: str | bytes | int) -> Any:
        """One command and its reply on this thread's connection; connection errors are retried."""
        connection = self._connection()
        packed = _packed(args)

        def send() -> Any:
            connection.send_packed_command((packed,))  # type: ignore[no-untyped-call]
            return connection.read_response()

        def failed(_error: Exception) -> None:
            connection.disconnect()  # type: ignore[no-untyped-call]

        try:
            return connection.retry.call_with_retry(send, failed)
        finally:
            # The server announced maintenance (a push message redis-py has
            # read): connect again for the next command, as redis-py would.
            if connection.should_reconnect():  # type: ignore[no-untyped-call]
                connection.disconnect()  # type: ignore[no-untyped-call]

    def _evalsha(self, keys: list[str], args: list[str | int]) -> Any:
        try:
            return self._command("EVALSHA", self._script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            # A restarted or another server: load the script, then run it.
            self._script.sha = self._command("SCRIPT", "LOAD", OBSERVE_LUA)
            return self._command("EVALSHA", self._script.sha, len(keys), *keys, *args)

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
        ]
        if obs.limit is not None or obs.rails:
            args += _guard_args(obs, keys, k)
        reply: str = self._run("observe", lambda: self._evalsha(keys, args))
        return _observed(reply)

    def record(
        self,
        account: str,
        event_id: str,
        decision: Mapping[str, Any],
        marks: RailsMarks | None = None,
    ) -> str | None:
        key = self._keys.event(account, event_id)
        value = orjson.dumps(decision)
        if marks is None:
            self._run("record", lambda: self._command("SET", key, value, "EX", DEDUP_SECONDS))
            return None
        keys = [key]
        if marks.escalation_cap:
            keys.append(self._keys.escalations(account))
        if marks.answered_author is not None:
            keys.append(self._keys.answered(account, marks.answered_author))
        args: list[bytes | str | int] = [
            value,
            DEDUP_SECONDS,
            marks.now_ms,
            marks.escalation_cap,
            marks.decision_id,
            marks.answered_keep_ms if marks.answered_author is not None else 0,
        ]
        into: str = self._run("record", lambda: self._record_rails(keys=keys, args=args))
        return into or None

    def abandon(self, account: str, event_id: str) -> None:
        key = self._keys.event(account, event_id)
        self._run("abandon", lambda: self._abandon(keys=[key], args=[ABANDONED, DEDUP_SECONDS]))

    def wait_for_decision(
        self, account: str, event_id: str, timeout_seconds: float
    ) -> Mapping[str, Any] | None:
        key = self._keys.event(account, event_id)
        deadline = time.monotonic() + timeout_seconds
        pause = 0.01
        while True:
            value = self._run("wait", lambda: self._command("GET", key))
            if value and value != ABANDONED:
                found: dict[str, Any] = orjson.loads(value)
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


# Mark a pending event as counted but undecided, for as long as a decision would
# be kept (a later copy must not be counted again); a recorded decision stays.
# KEYS[1] ev:<event_id>; ARGV[1] the mark; ARGV[2] its TTL in seconds
ABANDON_LUA = """
if redis.call('GET', KEYS[1]) == '' then
  return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 0
"""


def _guard_args(obs: Observation, keys: list[str], k: Keys) -> list[str | int]:
    """The observe script's rate-limit and rails arguments; appends their keys to `keys`."""
    limit_at = rails_at = 0
    per_window = until_end = 0
    if obs.limit is not None:
        window = obs.now_ms // obs.limit.window_ms
        keys.append(k.limit(obs.account, window))
        limit_at, per_window = len(keys), obs.limit.per_window
        until_end = (window + 1) * obs.limit.window_ms - obs.now_ms
    if obs.rails:
        keys += [k.escalations(obs.account), k.answered(obs.account, obs.author_id)]
        rails_at = len(keys) - 1
    return [obs.now_ms, per_window, until_end, limit_at, rails_at]


def _observed(reply: str) -> Observed:
    """The script's reply as an Observed, with the derived fields computed by levels.derive."""
    if reply.startswith("limited "):
        return Observed({}, retry_after_ms=int(reply[8:]))
    head, _, decision = reply.partition("\n")
    status, level, crisis_start, *numbers = head.split(" ")
    rails = _rails_seen(numbers[10:]) if len(numbers) > 10 else None
    (
        volume,
        negative,
        hostile,
        positive,
        multiplier,
        non_customer,
        volume_24h,
        multipliers_1h,
        author_negative,
        thread_negative,
    ) = map(int, numbers[:10])
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
    since = from_ms(int(crisis_start)) if level in ("crisis", "recovery") else None
    if status == "seen":
        if decision == ABANDONED:
            return Observed(fields, retry=True, crisis_since=since, rails=rails)
        if decision == "":
            return Observed(fields, pending=True, crisis_since=since, rails=rails)
        previous: dict[str, Any] = orjson.loads(decision)
        return Observed(fields, previous=previous)
    return Observed(fields, crisis_since=since, rails=rails)


def _rails_seen(parts: list[str]) -> RailsSeen:
    count, newest, answered = parts
    return RailsSeen(
        escalations_1h=int(count),
        open_escalation=None if newest == "-" else newest,
        author_answered_ms=None if answered == "-" else int(answered),
    )


# Store a decision and update the rails' state, atomically: the escalation cap
# holds exactly however many workers escalate at once. Safe to retry after a
# connection error: the escalation is a set member (its decision id), the mark a SET.
# KEYS[1] ev:<event_id>; with a cap KEYS[2] esc; with an answer, last, aa:<author>
# ARGV[1] the decision (JSON, with "folded":false)  ARGV[2] its TTL (s)
# ARGV[3] the service's clock (ms)  ARGV[4] the escalation cap (0: not an escalation)
# ARGV[5] the decision id  ARGV[6] how long the author's answer mark counts (ms; 0: none)
# Returns the id of the open escalation the decision was folded into, or "".
RECORD_RAILS_LUA = f"""
local decision, into = ARGV[1], ''
local now, cap, keep = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[6])
if cap > 0 then
  local esc = KEYS[2]
  local hour_ago = string.format('%.0f', now - {ESCALATION_WINDOW_MS})
  redis.call('ZREMRANGEBYSCORE', esc, '-inf', hour_ago)
  if redis.call('ZCOUNT', esc, '(' .. hour_ago, '+inf') >= cap then
    into = redis.call('ZREVRANGEBYSCORE', esc, '+inf', '(' .. hour_ago, 'LIMIT', 0, 1)[1]
    -- the same change as state.fold; ids hold no pattern characters
    decision = (string.gsub(decision, '{UNFOLDED}',
                            '"folded":true,"folded_into":"' .. into .. '"', 1))
  else
    redis.call('ZADD', esc, now, ARGV[5])
    redis.call('ZREMRANGEBYRANK', esc, 0, -(cap + 1))
    redis.call('PEXPIRE', esc, {ESCALATION_WINDOW_MS + LIMIT_TTL_MARGIN_MS})
  end
end
if keep > 0 then
  redis.call('SET', KEYS[#KEYS], ARGV[3], 'PX', keep + {LIMIT_TTL_MARGIN_MS})
end
redis.call('SET', KEYS[1], decision, 'EX', ARGV[2])
return into
"""
