"""A replay keeps what existed before it out of the garbage collector's passes, and restores it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

from policy_service.analysis import DefaultsAnalyzer
from policy_service.replay.collector import GC_THRESHOLDS, long_lived_kept_out_of_collections
from policy_service.replay.ordering import Item
from policy_service.replay.runner import Replay, Side, load_rules
from policy_service.state.memory import MemoryStore
from tests.conftest import RULES_DIR


def test_the_collector_settings_hold_while_replaying_and_are_restored_after() -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, tuple[int, int, int]]] = []

    def items() -> Iterator[Item]:
        seen.append((gc.get_freeze_count(), gc.get_threshold()))
        yield from ()

    policy, _ = load_rules(RULES_DIR)
    try:
        side = Side("rules", RULES_DIR, policy, MemoryStore(), DefaultsAnalyzer())
        Replay(side).run(items())
    finally:
        policy.close()
    [(frozen, thresholds)] = seen
    assert frozen > 0 and thresholds == GC_THRESHOLDS
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cycles_made_while_replaying_are_still_collected() -> None:
    class Node:
        other: Node

    with long_lived_kept_out_of_collections():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
    assert gc.get_freeze_count() == 0
