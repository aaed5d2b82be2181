"""The local backend's clock: what simulated jobs advance on.

The server reads the time through one callable (``time.time`` by default). A test gives
a [`ManualClock`][synapse.local.clock.ManualClock] instead and moves it on, so that a
job is PENDING, RUNNING or finished exactly when the test says, with no waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Clock", "ManualClock"]

#: Seconds since an arbitrary origin.
Clock = Callable[[], float]


class ManualClock:
    """A clock that moves only when told (thread-safe: the server reads it from its
    threads). Its ``advance`` can be a client's retry sleep, so that what the client
    waits is what the server sees pass."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"<ManualClock at {self():.3f}s>"
