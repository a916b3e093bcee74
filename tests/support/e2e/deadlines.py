"""How long the real-process tests wait for an event before they fail.

Every wait in tests/e2e follows an event (a row's state, a log line, a port answering, a process
gone) and gives up only at a deadline. The deadlines are chosen for a 2-core machine that runs two
CPU-bound processes beside the suite; `E2E_TIME_SCALE` multiplies all of them, and the workloads
sized to outlast them, on a slower or busier machine (`E2E_TIME_SCALE=3 make test`). A deadline
costs nothing while the tests pass: it only says how long a failing one hangs first.
"""

from __future__ import annotations

import math
import os

TIME_SCALE = max(1.0, float(os.environ.get("E2E_TIME_SCALE") or 1))


def scaled(seconds: float) -> float:
    """`seconds`, stretched by E2E_TIME_SCALE."""
    return seconds * TIME_SCALE


def lookups_outlasting(deadline: float, *, latency: float) -> int:
    """How many Spotify lookups at `latency` seconds each take longer than `deadline` seconds
    (already scaled): the stand-in's latency is a lower bound on a lookup, however idle the
    machine, so a sync with that many lookups left is certainly still running then."""
    return math.ceil(deadline / latency) + 1
