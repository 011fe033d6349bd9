"""Output files written whole or not at all: a temp file beside the target, renamed at the end."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO


class Completion:
    """Set `done` when the output is complete; otherwise the target is left untouched."""

    done = False


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[tuple[IO[bytes], Completion]]:
    """A binary file that replaces `path` only if the caller marks it done without an error."""
    # Opened with open(), not tempfile: the result gets the usual permissions (umask).
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    completion = Completion()
    try:
        with partial.open("wb") as handle:
            yield handle, completion
        if completion.done:
            os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
