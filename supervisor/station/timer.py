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
import math
import queue
import threading
from collections.abc import Callable

from drivers.clock import Clock

__all__ = ["SLACK_S", "ConnectorTimer", "StationTimer"]

log = logging.getLogger(__name__)

SLACK_S = 0.01

Key = tuple[int, str]  # (connector index, role)
_Arming = tuple[float, int]  # (due time, the arming's token)


class StationTimer:
    """Fires `fire(key)` once the time armed for `key` has come; arming again replaces it.

    `arm` takes no lock: every actor arms after every message, thousands of times a second
    at a thousand connectors, and a lock shared by all of them makes a convoy (each
    hand-over of a contended lock waits for the GIL). It notes the key's latest arming in a
    dict (one atomic store) and queues it for the timer thread, which alone owns the heap;
    it wakes that thread only for a time earlier than the one it waits for.
    """

    def __init__(self, clock: Clock, fire: Callable[[Key], None]) -> None:
        self._clock = clock
        self._fire = fire
        self._armed: dict[Key, _Arming] = {}  # each key's latest arming
        self._fired: dict[Key, int] = {}  # the token of each key's arming that fired last
        self._inbox: queue.SimpleQueue[tuple[float, int, Key]] = queue.SimpleQueue()
        self._heap: list[tuple[float, int, Key]] = []  # the timer thread's own
        self._tokens = itertools.count()
        self._wake = threading.Event()
        self._wake_at_s = math.inf  # when the timer thread means to wake (it publishes this)
        self._halt = False
        self._thread: threading.Thread | None = None

    def arm(self, key: Key, due_s: float | None) -> None:
        """Tick `key` at `due_s` (clock.monotonic()); None disarms it."""
        if due_s is None:
            self._armed.pop(key, None)
            return
        current = self._armed.get(key)
        if current is not None and current[0] == due_s and self._fired.get(key) != current[1]:
            return  # armed for that time already
        token = next(self._tokens)
        self._armed[key] = (due_s, token)
        self._inbox.put((due_s, token, key))
        if due_s + SLACK_S < self._wake_at_s:
            self._wake.set()

    def armed(self, key: Key) -> float | None:
        current = self._armed.get(key)
        if current is None or self._fired.get(key) == current[1]:
            return None
        return current[0]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="station-timer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._halt = True
        self._wake.set()
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
        while not self._halt:
            self._wake.clear()
            self._take_armed()
            now_s = self._clock.monotonic()
            if self._heap and self._heap[0][0] <= now_s:
                return self._pop_due(now_s)
            wake_at_s = self._heap[0][0] + SLACK_S if self._heap else math.inf
            self._wake_at_s = wake_at_s
            self._take_armed()  # armed before the time above was published: nobody woke us for them
            if self._heap and self._heap[0][0] + SLACK_S < wake_at_s:
                continue
            self._wake.wait(None if wake_at_s == math.inf else max(0.0, wake_at_s - now_s))
        return None

    def _take_armed(self) -> None:
        inbox, heap = self._inbox, self._heap
        while True:
            try:
                entry = inbox.get_nowait()
            except queue.Empty:
                return
            heapq.heappush(heap, entry)

    def _pop_due(self, now_s: float) -> list[Key]:
        keys = []
        heap, armed = self._heap, self._armed
        while heap and heap[0][0] <= now_s:
            due_s, token, key = heapq.heappop(heap)
            if armed.get(key) == (due_s, token):  # not re-armed or disarmed since
                self._fired[key] = token
                keys.append(key)
        return keys


class ConnectorTimer:
    """One connector's view of the station timer: `arm(role, due_s)`."""

    def __init__(self, timer: StationTimer, index: int) -> None:
        self._timer = timer
        self._index = index

    def arm(self, role: str, due_s: float | None) -> None:
        self._timer.arm((self._index, role), due_s)
