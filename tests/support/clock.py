"""A clock the test moves by hand, for code that takes `clock=time.monotonic`-like callables, and a
cancel check that starts answering True after a while of real time."""

import time
from collections.abc import Callable


class FakeClock:
    """Reads `now` when called; a test moves it with `clock.now += seconds`.

    It starts away from zero, as `time.monotonic()` does, so that code which mistakes a reading of
    0 for "never" cannot pass by luck.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cancel_after(seconds: float) -> tuple[Callable[[], bool], list[float]]:
    """A should_cancel that answers True from `seconds` on; `asked[0]` is when it first did."""
    started = time.monotonic()
    asked: list[float] = []

    def should_cancel() -> bool:
        if time.monotonic() - started < seconds:
            return False
        if not asked:
            asked.append(time.monotonic())
        return True

    return should_cancel, asked
