"""The garbage collector's settings while a replay runs (both of its processes)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Thresholds while a replay runs (700, 10, 10 by default): a pass over the youngest
# generation after 20,000 allocations, over the older ones 50 times rarer each.
GC_THRESHOLDS = (20_000, 50, 50)


@contextlib.contextmanager
def long_lived_kept_out_of_collections() -> Iterator[None]:
    """While a replay runs: what exists before it is never traversed by the garbage collector,
    and young objects are collected in larger batches.

    A replay allocates a few dozen objects per event, nearly all freed by their
    reference counts, while the state and the summary grow: the collector's
    full passes then traverse the rules, the analyzer's tables and the modules
    again and again (about 2 % of the deciding process's instructions with a
    reader process, counted with callgrind on the airline file). `gc.freeze`
    moves what exists into a generation that is never collected, and cycles
    made during the replay are still collected; both settings are restored
    afterwards.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
