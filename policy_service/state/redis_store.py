"""The Redis state store: the semantics of MemoryStore, shared by every worker and instance."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import hiredis
import orjson
import redis
from redis.backoff import EqualJitterBackoff
from redis.retry import Retry

from policy_service.errors import StoreUnavailable
from policy_service.state import (
    ABANDONED,
    DEDUP_SECONDS,
    ESCALATION_WINDOW_MS,
    UNFOLDED,
    CrisisRules,
    Observation,
    Observed,
    RailsMarks,
)
from policy_service.state.memory import empty_account_state, iso
from policy_service.state.redis_codec import (
    DEFAULT_PREFIX,
    Keys,
    observe_args,
    observed,
    ring_totals,
    transition,
)
from policy_service.state.redis_lua import (
    HOUR_RING,
    LIMIT_TTL_MARGIN_MS,
    MINUTE_RING,
    observe_script,
)
from policy_service.state.reply_wait import PollBudget, SocketPoller, pollable, wait_for_reply

if TYPE_CHECKING:
    from redis.client import Pipeline
    from redis.cluster import ClusterPipeline
    from redis.connection import AbstractConnection

log = logging.getLogger(__name__)

T = TypeVar("T")

# A request's whole budget is a few of these; a slow Redis must not hold a decision up.
SOCKET_TIMEOUT_SECONDS = 0.25
HEALTH_CHECK_SECONDS = 30
RETRIES = 2
BREAKER_PAUSE_SECONDS = 1.0
OBSERVE_SCRIPTS_KEPT = 16


def _packed(args: tuple[str | bytes | int, ...]) -> bytes:
    """A command in the Redis protocol, as redis-py would write it (hiredis packs it in C)."""
    # hiredis declares a one-element tuple, but takes any number of arguments.
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]
    return packed


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


class _Script:
    """A Lua script's source and SHA1: EVALSHA sends the digest, not the source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class _Pinned(threading.local):
    """The connection a thread keeps for the decision path, the process it belongs to,
    and the records the thread has not sent yet (see RedisStore.defer_records)."""

    connection: AbstractConnection | None = None
    pid = 0
    # (event id, the SET in the Redis protocol), oldest first; None when empty
    unsent: list[tuple[str, bytes]] | None = None
    # True once the unsent records have outlived the request that deferred them
    carried = False
    # with poll_for_replies: the connection's socket as polled, and the thread's budget
    poller: SocketPoller | None = None
    budget: PollBudget | None = None


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

    With `defer_records()` (the service's gunicorn worker calls it), a plain
    record (no rails' marks) is not sent at once: it goes out in front of the
    thread's next command, in the same write, and its reply is read before
    that command's. A decision then costs one wait for Redis instead of two,
    on both sides of the connection. Whoever enables this must call `flush()`
    whenever the thread goes idle.

    With `poll_for_replies(polls)` (the same worker calls it), a thread that
    has sent a command polls the socket for the reply, yielding the core
    between polls, before it blocks in the read (see reply_wait).
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = DEFAULT_PREFIX,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        self._pinned = _Pinned()
        self._init_state(prefix, breaker)

    def _init_state(self, prefix: str, breaker: CircuitBreaker | None) -> None:
        """What a store keeps besides its client (the cluster store has another client)."""
        self._keys = Keys(prefix)
        self._breaker = breaker or CircuitBreaker()
        self._defer = False  # see defer_records
        self._reply_polls = 0  # see poll_for_replies
        # One observe script per rule set's crisis conditions (see redis_lua), by
        # their JSON; a reload with other conditions adds one.
        self._observe_scripts: dict[str, _Script] = {}
        self._abandon = _Script(ABANDON_LUA)
        self._record_rails = _Script(RECORD_RAILS_LUA)

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
            # New thread, or a forked child: the parent's socket is not ours to
            # use, nor are its unsent records ours to send.
            if connection is not None:
                pinned.unsent = None
            connection = self._client.connection_pool.get_connection()
            pinned.connection, pinned.pid = connection, os.getpid()
        return connection

    def _command(self, *args: str | bytes | int) -> Any:
        """One command and its reply on this thread's connection; connection errors are retried."""
        return self._exchange(_packed(args))

    def _exchange(self, packed: bytes | None) -> Any:
        """Send the thread's unsent records and `packed` in one write; the reply to `packed`.

        The records' replies come first and are read whatever they say, so the
        connection stays in step; a record Redis refused is logged. When the
        exchange fails the records are logged as lost: their decisions were
        given, only a duplicate's replay of them is gone.
        """
        connection = self._connection()
        pinned = self._pinned
        unsent, pinned.unsent, pinned.carried = pinned.unsent, None, False
        data = packed or b""
        if unsent:
            data = b"".join(command for _, command in unsent) + data
        records_answered = False

        def send() -> Any:
            nonlocal records_answered
            connection.send_packed_command((data,))  # type: ignore[no-untyped-call]
            if self._reply_polls:
                try:
                    self._wait_for_reply(connection)
                except BaseException:
                    # (a worker's SystemExit, say) the reply is still unread: as
                    # redis-py does on any error in its send or read, the
                    # connection goes, so no later command reads it as its own
                    connection.disconnect()  # type: ignore[no-untyped-call]
                    raise
            if unsent:
                _read_records(connection, unsent)
                records_answered = True
            return None if packed is None else connection.read_response()

        def failed(_error: Exception) -> None:
            connection.disconnect()  # type: ignore[no-untyped-call]

        try:
            return connection.retry.call_with_retry(send, failed)
        except BaseException as exc:  # a worker's SystemExit too: the records are gone
            # (An error of the command itself, NOSCRIPT say, comes after the
            # records' replies: they were stored.)
            if unsent and not records_answered:
                log.warning(
                    "%d decision(s) not recorded (%s): %s",
                    len(unsent),
                    ", ".join(event_id for event_id, _ in unsent),
                    exc,
                )
            raise
        finally:
            # The server announced maintenance (a push message redis-py has
            # read): connect again for the next command, as redis-py would.
            if connection.should_reconnect():  # type: ignore[no-untyped-call]
                connection.disconnect()  # type: ignore[no-untyped-call]

    def _wait_for_reply(self, connection: AbstractConnection) -> None:
        # redis-py keeps the connected socket there; the read that follows is its own.
        sock = connection._sock
        pinned = self._pinned
        poller = pinned.poller
        if poller is None or poller.sock is not sock:
            # the first command of the thread, or the connection was made again
            if not pollable(sock):
                return
            poller = pinned.poller = SocketPoller(sock)
        if pinned.budget is None:
            pinned.budget = PollBudget(self._reply_polls)
        wait_for_reply(poller, pinned.budget)

    def _evalsha(self, script: _Script, keys: list[str], args: list[bytes | str | int]) -> Any:
        try:
            return self._command("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            # A restarted or another server: load the script, then run it.
            script.sha = self._command("SCRIPT", "LOAD", script.source)
            return self._command("EVALSHA", script.sha, len(keys), *keys, *args)

    def _observe_script(self, rules: CrisisRules) -> _Script:
        script = self._observe_scripts.get(rules.as_json)
        if script is None:
            if len(self._observe_scripts) >= OBSERVE_SCRIPTS_KEPT:
                self._observe_scripts.clear()  # reloads replaced the rule sets many times
            script = self._observe_scripts[rules.as_json] = _Script(observe_script(rules))
        return script

    # Errors that say Redis cannot be reached: they open the breaker.
    UNREACHABLE: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
    # Any other error of the client: Redis answered, but gave no state.
    FAILED: tuple[type[Exception], ...] = (redis.RedisError,)

    def _run(self, what: str, call: Callable[[], T]) -> T:
        self._breaker.check()
        try:
            result = call()
        except self.UNREACHABLE as exc:
            self._breaker.failed(f"{type(exc).__name__}: {exc}")
            raise StoreUnavailable(f"redis {what} failed: {exc}") from exc
        except self.FAILED as exc:
            # Redis answered, with an error (out of memory, read-only replica,
            # ...): no reason to stop trying, but no state either.
            raise StoreUnavailable(f"redis {what} failed: {exc}") from exc
        self._breaker.succeeded()
        return result

    def observe(self, observation: Observation) -> Observed:
        keys = self._keys.observe(observation)
        args = observe_args(observation)
        script = self._observe_script(observation.crisis)
        reply: str = self._run("observe", lambda: self._evalsha(script, keys, args))
        return observed(reply)

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
            store = ("SET", key, value, "EX", DEDUP_SECONDS)
            if self._defer:
                self._defer_record(event_id, _packed(store))
            else:
                self._run("record", lambda: self._command(*store))
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
        into: str = self._run("record", lambda: self._evalsha(self._record_rails, keys, args))
        return into or None

    def defer_records(self) -> None:
        """From now on a plain record waits for the thread's next command, or for `flush()`.

        Only for a caller that calls `flush()` whenever the thread has no
        request to serve and `request_done()` after each request
        (policy_service.gunicorn_worker does, before it waits for a
        connection, after each request, and when it stops).
        """
        self._defer = True

    def poll_for_replies(self, polls: int) -> None:
        """From now on a thread polls for a reply up to `polls` times before it blocks.

        Only for a caller that serves one request at a time per thread and
        process (policy_service.gunicorn_worker): a polling thread keeps its
        core while no other process wants it. 0 turns it off.
        """
        self._reply_polls = PollBudget(polls).most
        self._pinned.budget = None

    def _defer_record(self, event_id: str, command: bytes) -> None:
        pinned = self._pinned
        if pinned.unsent is None:
            pinned.unsent, pinned.carried = [], False
        pinned.unsent.append((event_id, command))

    def request_done(self) -> None:
        """A request of this thread ended: records it found unsent, and did not send, go now.

        So a record waits for one more request at most: the next decision
        sends it with its observe step; a request that sends no command
        (a refused event, a health check) leaves it to this.
        """
        pinned = self._pinned
        if not (self._defer and pinned.unsent):
            return
        if pinned.carried:
            self.flush()
        else:
            pinned.carried = True

    def flush(self) -> None:
        """Send this thread's deferred records now and read their replies.

        Never raises: it is idle work. Records lost with Redis are logged by
        `_exchange`; while the breaker is open they wait for the next command.
        """
        if self._defer and self._pinned.unsent:
            with contextlib.suppress(StoreUnavailable):
                self._run("record", lambda: self._exchange(None))

    def abandon(self, account: str, event_id: str) -> None:
        key = self._keys.event(account, event_id)
        args: list[bytes | str | int] = [ABANDONED, DEDUP_SECONDS]
        self._run("abandon", lambda: self._evalsha(self._abandon, [key], args))

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

        def read(pipe: Pipeline | ClusterPipeline) -> list[Any]:
            pipe.hgetall(k.meta(account))
            pipe.lrange(k.transitions(account), 0, -1)
            return pipe.execute()

        meta, transitions = self._run("account state", lambda: read(self._pipeline()))
        if "wm" not in meta:
            return empty_account_state(account)
        now, since = int(meta["wm"]), int(meta.get("since") or 0)
        return {
            "account": account,
            "crisis_level": meta.get("level") or "calm",
            "since": iso(since) if since else None,
            "as_of": iso(now),
            "windows": {
                "1h": ring_totals(meta, "m:", now, *MINUTE_RING),
                "24h": ring_totals(meta, "h:", now, *HOUR_RING),
            },
            "transitions": [transition(raw) for raw in transitions],
        }

    def _pipeline(self) -> Pipeline | ClusterPipeline:
        """A transaction: the account's keys read as of one moment."""
        return self._client.pipeline(transaction=True)

    def _ping(self) -> object:
        return self._client.ping()

    def ping(self) -> bool:
        if self._breaker.is_open():
            return False
        try:
            self._run("ping", self._ping)
        except StoreUnavailable:
            return False
        return True


def _read_records(connection: AbstractConnection, unsent: list[tuple[str, bytes]]) -> None:
    """Read the replies to deferred records; one that Redis refused is logged, not raised."""
    for event_id, _ in unsent:
        try:
            connection.read_response()
        except redis.ResponseError as exc:
            log.warning("decision for %s not recorded: %s", event_id, exc)


# Mark a pending event as counted but undecided, for as long as a decision would
# be kept (a later copy must not be counted again); a recorded decision stays.
# KEYS[1] ev:<event_id>; ARGV[1] the mark; ARGV[2] its TTL in seconds
ABANDON_LUA = """
if redis.call('GET', KEYS[1]) == '' then
  return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 0
"""


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
  -- the escalations within the hour, newest first: at most the cap of them are kept,
  -- and the older ones are never read again (the rank trim drops them first)
  local in_hour = redis.call('ZREVRANGEBYSCORE', esc, '+inf',
                             '(' .. string.format('%.0f', now - {ESCALATION_WINDOW_MS}))
  if #in_hour >= cap then
    into = in_hour[1]
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
