"""An operator's decisions about a supervisor's children, as supervisorctl's stop, start and
restart: stop one child for good, start a stopped one again, restart them all on purpose.

None of them is a failure: no failure is counted, the restart intensity is untouched. Each
takes the supervisor's decision lock, as its own decisions do (`Supervisor.poll`).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from supervisor.tree.children import ChildTable
from supervisor.tree.errors import Unavailable

__all__ = ["ManualControl"]

logger = logging.getLogger(__name__)


class _Clock(Protocol):
    def monotonic(self) -> float: ...


class ManualControl:
    """A part of `Supervisor`: what it needs of the supervisor is declared here."""

    name: str
    _table: ChildTable
    _poll_lock: threading.RLock
    _clock: _Clock

    def _run_due(self) -> None:
        raise NotImplementedError

    def terminate_child(self, role: str) -> None:
        """Stop one child for good; it is not restarted."""
        with self._poll_lock:
            child = self._table.child(role)
            if child.state == "running":
                self._table.stop(child, "stopped")
            else:
                self._table.retire(child, "stopped")

    def restart_child(self, role: str) -> None:
        """Start a stopped child again now."""
        with self._poll_lock:
            child = self._table.child(role)
            if self._table.state != "running" or child.state != "stopped":
                raise Unavailable(f"{self.name}/{role} is {self._table.state_text(child)}")
            child.backoff.reset()
            self._table.schedule(child, self._clock.monotonic(), is_restart=False)
            self._run_due()

    def restart_all(self, reason: str) -> None:
        """Restart every child now (`supervisorctl restart`), those stopped for good aside.

        As after a one_for_all failure the children are stopped last first and started again
        in order, at once: the backoff is untouched, and each `restarted` event carries
        `reason`. Returns once they run again (a start that fails is a failure, counted).
        """
        with self._poll_lock:
            if self._table.state != "running":
                raise Unavailable(f"{self.name} is {self._table.state.replace('_', ' ')}")
            logger.info("%s: every child restarts: %s", self.name, reason)
            now_s = self._clock.monotonic()
            for child in self._table.stop_for_restart():
                self._table.schedule(child, now_s, is_restart=child.generation > 0, reason=reason)
            self._run_due()
