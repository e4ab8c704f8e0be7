"""What runs a supervisor's decisions: a daemon thread that polls when woken or when due."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Runner"]


class Runner:
    """Calls `poll` when woken, or after `sleep_s()` seconds at the latest."""

    def __init__(self, name: str, poll: Callable[[], None], sleep_s: Callable[[], float]) -> None:
        self._name = name
        self._poll = poll
        self._sleep_s = sleep_s
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._halt.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, join_s: float) -> None:
        """Stop polling; waits up to `join_s` for a poll in progress (unless called from one)."""
        self._halt.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=join_s)

    def _run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(self._sleep_s())
            self._wake.clear()
            if self._halt.is_set():
                return
            self._poll()
