"""Waiting for a Redis reply by polling its socket, the core yielded between polls.

A sync worker that blocks in recv() for a reply a local Redis sends within
tens of microseconds pays for the sleep more than for the wait: the core
goes idle (on a virtual machine the hypervisor may take it), and the wake-up
costs latency and runs the worker on cold caches. Polling the socket, and
giving the core to any other runnable process between two polls, keeps the
worker on its core while nothing else needs it. Measured in bench/README.md
("Polling for the reply").

The poll budget adapts, so that a Redis whose replies take longer than the
budget (a remote one) does not cost a spin with every command: after
MISSES_BEFORE_PROBING waits in a row that ended in a blocking read, a wait
polls PROBE_POLLS times only, and every RETRY_EVERY-th the whole budget
again; a reply found by polling restores the whole budget. A single late
reply (the server busy with another client's script) changes nothing: under
load they come now and then.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import TypeGuard

# Waits in a row that end in a blocking read before polling is cut to the probe.
MISSES_BEFORE_PROBING = 4
# What a wait costs once replies stopped coming within the budget: enough
# polls to notice when they come fast again.
PROBE_POLLS = 8
# While probing, every so many waits poll the whole budget: a probe is too short
# for a reply that takes a round trip, and the Redis may have become fast again.
RETRY_EVERY = 64
# However many polls are left, a wait stops polling once this has passed (checked
# after each yield, and a yield may give the core away for a time slice when the
# machine is busy); the socket timeout only starts with the read.
MAX_POLL_SECONDS = 0.002


class PollBudget:
    """How many polls the next wait may spend before it blocks in the read."""

    def __init__(self, most: int) -> None:
        if most < 0:
            raise ValueError(f"a poll budget is 0 (off) or more, not {most}")
        self.most = most
        self.polls = most
        self.misses = 0  # waits in a row that ended in a blocking read

    def spent(self, found: bool) -> None:
        """Adapt to a wait that found its reply by polling, or did not."""
        if found:
            self.polls, self.misses = self.most, 0
            return
        self.misses += 1
        if self.misses < MISSES_BEFORE_PROBING:
            return
        retry = self.misses % RETRY_EVERY == RETRY_EVERY - 1
        self.polls = self.most if retry else min(PROBE_POLLS, self.most)


def poll_until(
    ready: Callable[[], bool],
    polls: int,
    pause: Callable[[], None],
    expired: Callable[[], bool] = lambda: False,
) -> bool:
    """Call `ready` up to `polls` times, `pause` between two calls, until it is true or
    `expired` is; whether it became true."""
    for done in range(polls):
        if ready():
            return True
        if done + 1 < polls:
            pause()
            if expired():
                # one more look: the pause may have lasted past the time, and the
                # reply come meanwhile
                return ready()
    return False


class SocketPoller:
    """Tells whether a socket has bytes to read, without blocking; one per socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)

    def readable(self) -> bool:
        # POLLERR, POLLHUP and POLLNVAL count too: the read that follows reports them.
        return bool(self._poll.poll(0))


def pollable(sock: object) -> TypeGuard[socket.socket]:
    """Whether polling the file descriptor tells that a reply came.

    A TLS socket may hold a decrypted reply that its descriptor no longer
    shows: it is read at once instead.
    """
    return isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket)


def wait_for_reply(
    poller: SocketPoller, budget: PollBudget, clock: Callable[[], float] = time.monotonic
) -> None:
    """Poll for a reply within the budget and MAX_POLL_SECONDS, yielding the core between
    polls; adapt the budget."""
    if budget.polls:
        deadline = clock() + MAX_POLL_SECONDS
        found = poll_until(
            poller.readable, budget.polls, os.sched_yield, lambda: clock() >= deadline
        )
        budget.spent(found)
