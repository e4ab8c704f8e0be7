"""Time as a dependency: the system clock in production, a clock the tests move by hand."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds for measuring intervals; never goes backwards."""
        ...

    def time(self) -> float:
        """Wall-clock Unix seconds, for timestamps and dates."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


class FakeClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start_time: float = 1_800_000_000.0) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._start_time = start_time

    def monotonic(self) -> float:
        with self._lock:
            return 1000.0 + self._offset

    def time(self) -> float:
        with self._lock:
            return self._start_time + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._offset += seconds
