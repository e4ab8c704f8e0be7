"""The threads every supervisor of a process shares: one timer, a few workers, one health scan.

An idle supervisor costs no thread and no wake-up: the timer thread scans the health of
every registered supervisor as often as the most demanding one asks (its `scan_s`: the
supervisor's `ping_interval_s`), reading its children's leases, sending them
nothing) and wakes a supervisor only when it has news (a report, a hung or dead child)
or a restart falls due. Its decisions then run on one of a few worker threads, never
two at once for the same supervisor; a decision that waits (a handshake, a stop within
its shutdown timeout) holds one worker, not the others.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

__all__ = ["Runner", "Runtime", "shared_runtime"]

log = logging.getLogger(__name__)

WORKERS = 4
IDLE_SCAN_S = 1.0  # how often the timer looks when no supervisor is registered


class Runner:
    """One supervisor's place in the runtime: `wake()` runs `poll` soon on a worker.

    After each poll, `next_s()` says in how many seconds to poll again (None: only when
    woken); `scan()` is called by the timer thread and must not block.
    """

    def __init__(
        self,
        runtime: Runtime,
        poll: Callable[[], None],
        next_s: Callable[[], float | None],
        scan: Callable[[], None],
        scan_s: float,
    ) -> None:
        self._runtime = runtime
        self.scan_s = scan_s
        self._poll = poll
        self._next_s = next_s
        self.scan = scan
        self._lock = threading.Lock()
        self._active = False
        self._queued = False
        self._running = False
        self._again = False
        self._busy_since_s: float | None = None  # queued or polling since (time.monotonic())

    def busy_s(self) -> float:
        """How long a wake has been waiting for a worker or polling; 0 when idle."""
        since_s = self._busy_since_s
        return 0.0 if since_s is None else time.monotonic() - since_s

    def runtime_alive(self, within_s: float) -> bool:
        """The runtime's timer (health scans, due restarts) turned within `within_s` seconds."""
        return self._runtime.timer_alive(within_s)

    def start(self) -> None:
        with self._lock:
            self._active = True
        self._runtime.register(self)
        self.wake()

    def stop(self) -> None:
        """No more polls start (one under way finishes: the caller waits for it by its own lock)."""
        with self._lock:
            self._active = False
        self._runtime.unregister(self)

    def wake(self) -> None:
        with self._lock:
            if not self._active:
                return
            if self._running:
                self._again = True
                return
            if self._queued:
                return
            self._queued = True
            self._busy_since_s = time.monotonic()
        self._runtime.submit(self)

    def run(self) -> None:
        """On a worker: poll until no news came meanwhile, then arm the timer."""
        with self._lock:
            self._queued = False
            if not self._active or self._running:
                if not self._running:
                    self._busy_since_s = None
                return
            self._running = True
        while True:
            try:
                self._poll()
            except Exception:
                log.exception("a supervision step failed")
            with self._lock:
                if not (self._again and self._active):
                    self._running, self._busy_since_s = False, None
                    break
                self._again = False
        delay_s = self._next_s()
        if delay_s is not None:
            self._runtime.wake_at(self, time.monotonic() + max(0.0, delay_s))


class Runtime:
    """The timer thread, the workers and the registered runners; threads start on first use."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._workers = workers
        self._cond = threading.Condition()
        self._timers: list[tuple[float, int, Runner]] = []
        self._seq = itertools.count()
        self._runners: dict[int, Runner] = {}
        self._work: queue.SimpleQueue[Runner] = queue.SimpleQueue()
        self._started = False
        self._timer_turn_s = time.monotonic()

    def timer_alive(self, within_s: float) -> bool:
        """The timer thread turned (waited, woke, scanned) within `within_s` seconds, or never started."""
        return not self._started or time.monotonic() - self._timer_turn_s <= within_s

    def register(self, runner: Runner) -> None:
        with self._cond:
            self._runners[id(runner)] = runner
            self._start_threads()

    def unregister(self, runner: Runner) -> None:
        with self._cond:
            self._runners.pop(id(runner), None)

    def submit(self, runner: Runner) -> None:
        self._work.put(runner)

    def wake_at(self, runner: Runner, due_s: float) -> None:
        """Wake `runner` at `due_s` (time.monotonic()); earlier wakes are not cancelled."""
        with self._cond:
            heapq.heappush(self._timers, (due_s, next(self._seq), runner))
            if self._timers[0][2] is runner:
                self._cond.notify()

    def _start_threads(self) -> None:
        if self._started:
            return
        self._started = True
        threading.Thread(target=self._timer_loop, name="supervision-timer", daemon=True).start()
        for index in range(self._workers):
            name = f"supervision-{index + 1}"
            threading.Thread(target=self._worker_loop, name=name, daemon=True).start()

    def _worker_loop(self) -> None:
        while True:
            self._work.get().run()

    def _timer_loop(self) -> None:
        next_scan_s = time.monotonic()
        while True:
            self._timer_turn_s = time.monotonic()
            due = self._due(next_scan_s)
            for runner in due:
                runner.wake()
            if time.monotonic() >= next_scan_s:
                next_scan_s = time.monotonic() + self._scan()

    def _due(self, next_scan_s: float) -> list[Runner]:
        """Wait for the next timer or scan; the runners whose timers are due."""
        with self._cond:
            now_s = time.monotonic()
            first_s = self._timers[0][0] if self._timers else next_scan_s
            wait_s = min(first_s, next_scan_s) - now_s
            if wait_s > 0:
                self._cond.wait(wait_s)
                now_s = time.monotonic()
            due = []
            while self._timers and self._timers[0][0] <= now_s:
                due.append(heapq.heappop(self._timers)[2])
            return due

    def _scan(self) -> float:
        """Scan every registered runner; seconds until the next scan."""
        with self._cond:
            runners = list(self._runners.values())
        for runner in runners:
            try:
                runner.scan()
            except Exception:
                log.exception("a health scan failed")
        return min((runner.scan_s for runner in runners), default=IDLE_SCAN_S)


_shared: Runtime | None = None
_shared_lock = threading.Lock()


def shared_runtime() -> Runtime:
    """The process's runtime (its threads start with the first supervisor)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Runtime()
        return _shared
