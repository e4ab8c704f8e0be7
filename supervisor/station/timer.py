"""One timer thread for every actor of the station: a `Tick` to an actor when its next timer is due.

Each actor arms its next due time (on the station's clock) after every message it
handles (`actors.ports.Timer`); an idle connector costs one wake-up per telemetry and
meter interval, not a tick every control cycle. Timers due within `SLACK_S` of each other
fire together, late rather than early, so one wake-up serves many actors.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

from drivers.clock import Clock

__all__ = ["SLACK_S", "ConnectorTimer", "StationTimer"]

log = logging.getLogger(__name__)

SLACK_S = 0.01

Key = tuple[int, str]  # (connector index, role)


class StationTimer:
    """Fires `fire(key)` once the time armed for `key` has come; arming again replaces it."""

    def __init__(self, clock: Clock, fire: Callable[[Key], None]) -> None:
        self._clock = clock
        self._fire = fire
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Key]] = []
        self._due: dict[Key, float] = {}
        self._seq = itertools.count()
        self._halt = False
        self._thread: threading.Thread | None = None

    def arm(self, key: Key, due_s: float | None) -> None:
        """Tick `key` at `due_s` (clock.monotonic()); None disarms it."""
        with self._cond:
            if due_s is None:
                self._due.pop(key, None)
                return
            if self._due.get(key) == due_s:
                return
            self._due[key] = due_s
            if self._thread is None:
                return  # not running: the heap is built at start
            heapq.heappush(self._heap, (due_s, next(self._seq), key))
            if self._heap[0][2] == key:
                self._cond.notify()

    def armed(self, key: Key) -> float | None:
        with self._cond:
            return self._due.get(key)

    def start(self) -> None:
        with self._cond:
            self._heap = [(due_s, next(self._seq), key) for key, due_s in self._due.items()]
            heapq.heapify(self._heap)
            self._thread = threading.Thread(target=self._run, name="station-timer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._halt = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        while True:
            keys = self._next_due()
            if keys is None:
                return
            for key in keys:
                try:
                    self._fire(key)
                except Exception:
                    log.exception("the timer of %s failed; it goes on", key)

    def _next_due(self) -> list[Key] | None:
        """Wait until the earliest timer (plus the slack); the keys due then. None once stopped."""
        with self._cond:
            while not self._halt:
                now_s = self._clock.monotonic()
                if self._heap and self._heap[0][0] <= now_s:
                    return self._pop_due(now_s)
                wait_s = self._heap[0][0] + SLACK_S - now_s if self._heap else None
                self._cond.wait(wait_s)
            return None

    def _pop_due(self, now_s: float) -> list[Key]:
        keys = []
        while self._heap and self._heap[0][0] <= now_s:
            due_s, _, key = heapq.heappop(self._heap)
            if self._due.get(key) == due_s:  # not re-armed or disarmed since
                del self._due[key]
                keys.append(key)
        return keys


class ConnectorTimer:
    """One connector's view of the station timer: `arm(role, due_s)`."""

    def __init__(self, timer: StationTimer, index: int) -> None:
        self._timer = timer
        self._index = index

    def arm(self, role: str, due_s: float | None) -> None:
        self._timer.arm((self._index, role), due_s)
