"""`--reader auto`: idle cores measured from /proc/stat, this process's own work not counted as load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from policy_service.replay import cores, ordering
from policy_service.replay.cores import IdleSample, cpu_times, spare_cores


def stat(*cpus: tuple[int, int], steal: int = 0) -> str:
    """/proc/stat's text for cores of (busy, idle) ticks, busy ones as user time."""
    lines = [f"cpu  {sum(b for b, _ in cpus)} 0 0 {sum(i for _, i in cpus)} 0 0 0 0 0 0"]
    lines += [f"cpu{n} {b} 0 0 {i} 0 0 0 {steal} 0 0" for n, (b, i) in enumerate(cpus)]
    return "\n".join([*lines, "intr 12 0 0", "ctxt 99", "btime 1700000000", ""])


def reader(*texts: str) -> Callable[[], str]:
    found: Iterator[str] = iter(texts)
    return lambda: next(found)


def ticking(*values: float) -> Callable[[], float]:
    found = iter(values)
    return lambda: next(found)


def sample(
    start: str, end: str, own: tuple[float, float] = (0.0, 0.0), seconds: float = 0.1
) -> IdleSample:
    # The clock: taken, then read twice after the interval (the wait, the elapsed time).
    return IdleSample(
        reader(start, end),
        cpus={0, 1},
        own_cpu=ticking(*own),
        clock=ticking(0.0, seconds, seconds),
    )


def test_cpu_times_reads_the_cores_asked_for_idle_with_io_wait() -> None:
    text = "cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 1 2 3 40 5 6 7 8 100 0\ncpu1 1 1 1 1 1 1 1 1\nintr 5"
    # idle + iowait; all = the first eight columns (guest time is in user already).
    assert cpu_times(text, {0}) == {0: (45, 72)}
    assert cpu_times(text, {0, 1, 2}) == {0: (45, 72), 1: (2, 8)}
    assert cpu_times("intr 5\n", {0}) == {}


def test_two_idle_cores_leave_one_beside_ours() -> None:
    quiet = stat((100, 100), (100, 100)), stat((100, 110), (100, 110))
    assert sample(*quiet).idle_cores() == pytest.approx(2.0)
    assert spare_cores(sample(*quiet)) == pytest.approx(1.0)


def test_a_core_busy_elsewhere_leaves_none() -> None:
    # This process slept; the other work took a core.
    idle = sample(stat((100, 100), (100, 100)), stat((110, 100), (100, 110)))
    assert spare_cores(idle) == pytest.approx(0.0)


def test_this_process_own_work_is_not_counted_as_load() -> None:
    # A core was busy all along, and this process's CPU time says it was this
    # process (loading the rules, or a benchmark's rounds): the other core is spare.
    idle = sample(stat((100, 100), (100, 100)), stat((110, 100), (100, 110)), own=(3.0, 3.1))
    assert spare_cores(idle) == pytest.approx(1.0)


def test_stolen_time_is_not_idle() -> None:
    # A virtual machine's hypervisor ran something else on half of each core's time.
    idle = sample(stat((0, 0)), stat((0, 10), steal=10))
    assert idle.idle_cores() == pytest.approx(0.5)


def test_only_the_rest_of_the_interval_is_waited() -> None:
    waits: list[float] = []
    idle = IdleSample(
        reader(stat((0, 0)), stat((0, 10))), {0}, ticking(0, 0), ticking(5.0, 5.03, 5.1)
    )
    idle.idle_cores(0.1, waits.append)
    assert waits == [pytest.approx(0.07)]
    waits.clear()
    idle = IdleSample(
        reader(stat((0, 0)), stat((0, 10))), {0}, ticking(0, 0), ticking(5.0, 5.4, 5.4)
    )
    idle.idle_cores(0.1, waits.append)
    assert waits == []


def test_without_proc_stat_the_load_average_with_up_to_a_core_of_it_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing() -> str:
        raise FileNotFoundError("/proc/stat")

    idle = IdleSample(missing, cpus={0, 1}, own_cpu=ticking(0.0), clock=ticking(0.0))
    assert idle.idle_cores() is None
    for load, spare in ((0.0, 1.0), (1.0, 1.0), (1.4, 0.6), (1.8, 0.2), (3.0, -1.0)):
        monkeypatch.setattr(cores.os, "getloadavg", lambda at=load: (at, at, at))
        assert spare_cores(idle) == pytest.approx(spare), load

    def no_load() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(cores.os, "getloadavg", no_load)
    assert spare_cores(idle) == 1.0  # nothing known: the machine is taken as ours


def test_auto_reads_in_a_second_process_only_with_a_core_to_spare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"{}\n" * 100)
    monkeypatch.setattr(ordering, "HELPER_MIN_BYTES", 100)
    quiet = stat((100, 100), (100, 100)), stat((100, 110), (100, 110))
    busy = stat((100, 100), (100, 100)), stat((110, 100), (106, 104))
    assert ordering.helper_worthwhile(path, sample(*quiet)) is True
    assert ordering.helper_worthwhile(path, sample(*busy)) is False
    # The same load, all of it this process's own earlier work: a core is spare.
    assert ordering.helper_worthwhile(path, sample(*busy, own=(1.0, 1.16))) is True
    one_core = IdleSample(reader(*quiet), {0}, ticking(0, 0), ticking(0, 0.1, 0.1))
    assert ordering.helper_worthwhile(path, one_core) is False

    def unread() -> str:
        raise AssertionError("a small file needs no sample")

    monkeypatch.setattr(ordering, "HELPER_MIN_BYTES", 1 << 30)
    monkeypatch.setattr(cores, "read_proc_stat", unread)
    assert ordering.helper_worthwhile(path) is False  # a small file: not worth a process
