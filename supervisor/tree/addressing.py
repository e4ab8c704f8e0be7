"""Stable addresses: reach a role's current generation, through a restart within a deadline.

A request that meets a restart waits for the new generation until its deadline, and is
resent only when the old one never handled it, so no request is lost or run twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pykka

from supervisor.tree.calls import Call, NotStarted
from supervisor.tree.children import ChildTable
from supervisor.tree.errors import Unavailable

__all__ = ["Addresses"]

_WAIT_SLICE_S = 0.05  # real seconds between looks at the table while an answer is awaited


class _Superseded(Exception):
    """The generation an ask was sent to was fenced before it answered."""


class Addresses:
    """Asks, tells and refs by role over one supervisor's child table (`now` is its clock); what it shows."""

    def __init__(self, table: ChildTable, now: Callable[[], float]) -> None:
        self._table = table
        self._now = now

    def ref(self, role: str) -> pykka.ActorRef[Any]:
        """The running generation of `role`; Unavailable when there is none right now."""
        return self._table.ref(role)

    def wait_ref(self, role: str, deadline_s: float) -> pykka.ActorRef[Any]:
        """The running generation of `role`, waiting through a restart until the deadline."""
        return self._table.wait_ref(role, deadline_s, None, self._now)

    def tell(self, role: str, message: Any) -> bool:
        """Tell the newest generation of `role`, even one still in its handshake (it handles the
        message once its `on_start` is done); False when there is none (the message is dropped)."""
        ref = self._table.newest_ref(role)
        if ref is None:
            return False
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            return False
        return True

    def ask(self, role: str, message: Any, timeout_s: float) -> Any:
        """Ask the current generation of `role`; resend to a new generation only if never handled.

        The message goes as a `Call`, whose `started` says whether a handler took it: an
        ActorDeadError for one never started (the actor was stopped at ask time, or died with
        it queued) sends it to the next generation; one from a handler (it asked a dead
        peer) is re-raised. A message queued behind a hung or stopping generation is resent
        once that generation is out of the table: whenever the stale one gets to it, it refuses
        it (its lease is withdrawn). A timeout is raised as pykka.Timeout: the message may still run (fenced).
        """
        deadline_s = self._now() + timeout_s
        stale: pykka.ActorRef[Any] | None = None
        while True:
            ref = self._table.wait_ref(role, deadline_s, stale, self._now)
            call = Call(message)
            future = ref.ask(call, block=False)
            try:
                return self._await(role, ref, future, deadline_s, self._now)
            except pykka.ActorDeadError:
                if call.started:
                    raise
            except _Superseded:
                pass
            stale = ref

    def ask_running(self, role: str, message: Any, timeout_s: float) -> Any:
        """Ask the running generation without waiting through a restart (for actors asking peers).

        Unavailable at once when `role` is not running, and as soon as the generation asked
        is retired (dead, hung, stopped) while the answer is awaited; pykka.Timeout after
        `timeout_s` real seconds.
        """
        name = self._table.name
        ref = self._table.ref(role)
        deadline_s = time.monotonic() + timeout_s
        call = Call(message)
        try:
            return self._await(role, ref, ref.ask(call, block=False), deadline_s, time.monotonic)
        except (_Superseded, NotStarted):
            raise Unavailable(f"{name}/{role} was retired while asked") from None
        except pykka.ActorDeadError:
            if call.started:
                raise
            raise Unavailable(f"{name}/{role} died before it answered") from None

    def _await(
        self,
        role: str,
        ref: pykka.ActorRef[Any],
        future: pykka.Future[Any],
        deadline_s: float,
        now: Callable[[], float],
    ) -> Any:
        while True:
            remaining_s = deadline_s - now()
            if remaining_s <= 0:
                raise pykka.Timeout(f"{self._table.name}/{role} did not answer in time")
            try:
                return future.get(timeout=min(remaining_s, _WAIT_SLICE_S))
            except pykka.Timeout:
                if not self._table.is_current(role, ref):
                    raise _Superseded() from None

    # --- visibility ------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """{"state", "restarts", "failures", "actors": [...]}: see `ChildTable.describe`."""
        return self._table.describe()

    def counts(self) -> tuple[int, int]:
        """(restarts, failures): what a summary of many connectors needs of `describe`."""
        return self._table.counts()

    def wait_for(self, check: Callable[[], bool], timeout_s: float) -> bool:
        """True once `check()` holds (False after `timeout_s` real seconds), looked at after each
        change of the children (stopped, restarting, running) or of the supervisor's state: for
        whoever waits for a decision (a tool, a test) without sleeping."""
        return self._table.wait_for(check, timeout_s)

    def pending_restarts(self) -> dict[str, float]:
        """Role → the clock's time at which its restart is due."""
        return self._table.pending_restarts()

    def busy_since(self) -> dict[str, float]:
        """Role → the clock's time at which its running generation began its current handler."""
        return self._table.busy_since()

    @property
    def state(self) -> str:
        return self._table.summary_state()
