"""The reader process of a replay: `python -m policy_service.replay.reader FILE CHUNK FD MODE`."""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from policy_service.replay.ordering import serve_items


def main(argv: list[str]) -> int:
    """Send the ordered items of FILE through the pipe FD (see ordering.helper_events).

    MODE `analyze` adds the signals the events leave out; `-` does not.
    """
    path, chunk_bytes, fd, mode = argv
    serve_items(path, int(chunk_bytes), Connection(int(fd), readable=False), mode == "analyze")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
