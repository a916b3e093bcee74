"""A clock the test moves by hand, for code that takes `clock=time.monotonic`-like callables."""


class FakeClock:
    """Reads `now` when called; a test moves it with `clock.now += seconds`.

    It starts away from zero, as `time.monotonic()` does, so that code which mistakes a reading of
    0 for "never" cannot pass by luck.
    """

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
