"""policy-service: decides what to do with each social-media comment, and why.

The Flask app factory lives in `policy_service.app` so that the command line
can import this package without importing Flask.
"""

from __future__ import annotations

import sys

if not ((3, 11) <= sys.version_info[:2] <= (3, 12)):  # pragma: no cover
    raise RuntimeError(
        "policy-service needs CPython 3.11 or 3.12: its rule engine (durable_rules 2.0.28) "
        f"fails to import on {sys.version_info[0]}.{sys.version_info[1]}"
    )

__version__ = "0.1.0"
