"""How much of the cores others leave idle now: whether a reader process would get one.

Measured from /proc/stat: the idle time of each core this process may run on,
between the moment an IdleSample is taken and the moment it is read. This
process's own CPU time in between counts as idle too (its core is the one
that decides; what matters is what others leave). The 1-minute load average
is no such measure: it lags a minute behind and counts this process's own
recent work (a replay that ran before, a benchmark's earlier rounds) as load.
Where /proc/stat cannot be read the load average is the fallback, up to one
core of it taken as this process's own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection
from pathlib import Path

# Shorter than this, the kernel's accounting (a tick: 10 ms at the usual
# 100 Hz) is too coarse; longer, the replay waits for nothing.
MIN_SAMPLE_SECONDS = 0.1
# /proc/stat's columns: user nice system idle iowait irq softirq steal (guest
# time is in user and nice already). Waiting on I/O leaves a core free to run.
_IDLE_COLUMNS = (3, 4)
_COLUMNS = 8

ReadStat = Callable[[], str]
CpuTimes = dict[int, tuple[int, int]]  # core -> (idle ticks, all ticks)


def read_proc_stat() -> str:
    return Path("/proc/stat").read_text()


def usable_cpus() -> frozenset[int]:
    """The cores this process may run on."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return frozenset(range(os.cpu_count() or 1))


def cpu_times(text: str, cpus: Collection[int]) -> CpuTimes:
    """(idle, all) ticks of each of `cpus` listed in /proc/stat's `text`."""
    found: CpuTimes = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit():
            continue  # the machine's total, or another counter
        number = int(name[3:])
        try:
            values = [int(v) for v in rest.split()[:_COLUMNS]]
        except ValueError:
            continue
        if number in cpus and len(values) > max(_IDLE_COLUMNS):
            found[number] = (sum(values[i] for i in _IDLE_COLUMNS), sum(values))
    return found


class IdleSample:
    """Idle cores from now until `idle_cores` is called, this process's own work counted idle.

    Take it before other start-up work (loading the rules): the interval then
    costs nothing, since this process's CPU time is added back. `read_stat`,
    `own_cpu` and `clock` are injected for the tests.
    """

    def __init__(
        self,
        read_stat: ReadStat = read_proc_stat,
        cpus: Collection[int] | None = None,
        own_cpu: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_stat = read_stat
        self._cpus = usable_cpus() if cpus is None else frozenset(cpus)
        self._own_cpu = own_cpu
        self._clock = clock
        self._start = self._times()
        self._own_start = own_cpu()
        self._started = clock()

    @property
    def cores(self) -> int:
        return len(self._cpus)

    def _times(self) -> CpuTimes:
        try:
            return cpu_times(self._read_stat(), self._cpus)
        except OSError:
            return {}

    def idle_cores(
        self,
        min_seconds: float = MIN_SAMPLE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> float | None:
        """Cores idle over the interval (0 to the number of cores), or None if unknown here.

        Waits (sleeping: no work of this process) until the interval is
        `min_seconds` long.
        """
        if not self._start:
            return None
        wait = self._started + min_seconds - self._clock()
        if wait > 0:
            sleep(wait)
        end = self._times()
        elapsed = self._clock() - self._started
        idle, counted = 0.0, 0
        for cpu, (idle_end, all_end) in end.items():
            before = self._start.get(cpu)
            if before is None or all_end <= before[1]:
                continue  # went offline, or no tick accounted in between
            idle += (idle_end - before[0]) / (all_end - before[1])
            counted += 1
        if not counted or elapsed <= 0:
            return None
        own = max(self._own_cpu() - self._own_start, 0.0) / elapsed
        return min(idle + own, float(self.cores))


def spare_cores(sample: IdleSample) -> float:
    """Cores idle beside the one this process decides on (negative: none, and contended)."""
    idle = sample.idle_cores()
    if idle is not None:
        return idle - 1.0
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available either: assume the machine is ours
        return sample.cores - 1.0
    # The average cannot tell this process's recent work from others': up to
    # one core of it may be ours.
    return sample.cores - 1.0 - max(load - 1.0, 0.0)
