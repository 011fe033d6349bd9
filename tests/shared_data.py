"""Where the shared real data sets are (../shared/data beside the checkout, by default)."""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """POLICY_SHARED_DATA when set, else shared/data beside the checkout, else /work/shared/data.

    A clean clone for CI may live anywhere: the fallback keeps the data found
    on the machine that has it.
    """
    configured = os.environ.get("POLICY_SHARED_DATA")
    if configured:
        return Path(configured)
    for candidate in (_ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return _ROOT.parent / "shared" / "data"


SHARED_DATA = shared_data_dir()
