"""The child table: each child's generation, state, ref and lease, and the waits on them.

Only the supervisor's decisions change the table; callers on any thread read it (refs,
states) and wait on it (a restart that ends). One condition guards it all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pykka

from supervisor.tree.backoff import Backoff
from supervisor.tree.errors import Unavailable
from supervisor.tree.lease import Lease
from supervisor.tree.plan import ChildView
from supervisor.tree.specs import ChildSpec, ChildState

__all__ = ["Child", "ChildTable", "SupervisorState"]

logger = logging.getLogger(__name__)

SupervisorState = Literal["stopped", "running", "gave_up"]

_WAIT_SLICE_S = 0.05  # real seconds between looks at the injected clock while waiting


@dataclass(eq=False)
class Child:
    spec: ChildSpec
    backoff: Backoff
    generation: int = 0
    state: ChildState = "stopped"
    ref: pykka.ActorRef[Any] | None = None
    lease: Lease | None = None
    restarts: int = 0  # generations started after the first, whatever the cause
    failures: int = 0  # this child's own deaths (crashed, hung), not the siblings it took along
    last_failure: str | None = None
    due_s: float | None = None
    is_restart: bool = False
    due_reason: str = ""  # why the pending start happens, for its event ("" after a failure)
    seen_dead: bool = False

    @property
    def role(self) -> str:
        return self.spec.role

    def view(self) -> ChildView:
        return ChildView(self.spec.role, self.spec.restart, self.state)


class ChildTable:
    """The ordered children of one supervisor and the supervisor's own state."""

    def __init__(self, name: str, children: Sequence[Child]) -> None:
        self.name = name
        self.children = list(children)
        self._by_role = {child.role: child for child in self.children}
        self.cond = threading.Condition()
        self.state: SupervisorState = "stopped"
        self.restarts = 0
        self.failures = 0

    def child(self, role: str) -> Child:
        child = self._by_role.get(role)
        if child is None:
            raise KeyError(f"{self.name} has no child {role!r}")
        return child

    def find(self, role: str) -> Child | None:
        return self._by_role.get(role)

    # --- changes (by the supervisor's decisions) ----------------------------------------

    def set_state(self, state: SupervisorState) -> None:
        with self.cond:
            self.state = state
            self.cond.notify_all()

    def schedule(self, child: Child, due_s: float, *, is_restart: bool, reason: str = "") -> None:
        with self.cond:
            child.state, child.due_s, child.is_restart = "restarting", due_s, is_restart
            child.due_reason = reason
            self.cond.notify_all()

    def failed(self, child: Child, reason: str) -> None:
        """Count a failure of `child` itself (once, however many siblings it takes along)."""
        with self.cond:
            child.failures += 1
            child.last_failure = reason
            self.failures += 1
            self.cond.notify_all()

    def begin(self, child: Child, lease: Lease) -> None:
        """A new generation is being started under `lease`."""
        with self.cond:
            child.generation = lease.generation
            child.lease, child.due_s = lease, None

    def started(self, child: Child, ref: pykka.ActorRef[Any]) -> None:
        with self.cond:
            child.ref = ref

    def mark_running(self, child: Child) -> bool:
        """The new generation answered its handshake; True when it was a restart."""
        with self.cond:
            child.state = "running"
            child.seen_dead = False
            if child.is_restart:
                child.restarts += 1
                self.restarts += 1
            self.cond.notify_all()
            return child.is_restart

    def detach(self, child: Child, state: ChildState) -> tuple[pykka.ActorRef[Any] | None, Lease | None]:
        """Take the generation out of the table (it answers no one now, and starts no further
        Call: its lease is withdrawn); its ref and lease."""
        with self.cond:
            ref, lease = child.ref, child.lease
            if lease is not None:
                lease.withdraw()
            child.state, child.ref, child.lease, child.due_s = state, None, None, None
            self.cond.notify_all()
            return ref, lease

    def retire(self, child: Child, state: ChildState) -> None:
        """Fence a dead or abandoned generation: revoke its lease, ask it to stop, never wait."""
        ref, lease = self.detach(child, state)
        if lease is not None:
            lease.revoke()
        if ref is not None and ref.is_alive():
            ref.stop(block=False)

    def stop(self, child: Child, state: ChildState) -> None:
        """Stop a running child within its shutdown timeout, or abandon it; then revoke its lease."""
        ref, lease = self.detach(child, state)
        if ref is not None:
            try:
                ref.stop(block=True, timeout=child.spec.shutdown_timeout_s)
            except pykka.Timeout:
                logger.warning("%s/%s did not stop in time: abandoned", self.name, child.role)
        if lease is not None:
            lease.revoke()

    def stop_all(self, state: ChildState) -> None:
        """Stop every child, last first."""
        for child in reversed(self.children):
            if child.state == "running":
                self.stop(child, state)
            else:
                self.retire(child, state)

    def stop_for_restart(self) -> list[Child]:
        """Stop every child but those stopped for good, last first; those stopped, in order."""
        again = [child for child in self.children if child.state != "stopped"]
        for child in reversed(again):
            if child.state == "running":
                self.stop(child, "restarting")
            else:
                self.retire(child, "restarting")
        return again

    # --- reads (any thread) -------------------------------------------------------------

    def ref(self, role: str) -> pykka.ActorRef[Any]:
        """The running generation of `role`; Unavailable when there is none right now."""
        with self.cond:
            child = self.child(role)
            if child.state != "running" or child.ref is None:
                raise Unavailable(f"{self.name}/{role} is {self.state_text(child)}")
            return child.ref

    def newest_ref(self, role: str) -> pykka.ActorRef[Any] | None:
        """The newest generation of `role`, running or still in its handshake; None if none."""
        with self.cond:
            return self.child(role).ref

    def is_current(self, role: str, ref: pykka.ActorRef[Any]) -> bool:
        """False once the generation behind `ref` was retired (fenced)."""
        with self.cond:
            return self.child(role).ref is ref

    def wait_ref(
        self, role: str, deadline_s: float, stale: pykka.ActorRef[Any] | None, now: Any
    ) -> pykka.ActorRef[Any]:
        """The running generation of `role` other than `stale`, waiting through a restart."""
        with self.cond:
            child = self.child(role)
            while True:
                if child.state == "running" and child.ref is not None and child.ref is not stale:
                    return child.ref
                if self.state != "running" or child.state == "stopped":
                    raise Unavailable(f"{self.name}/{role} is {self.state_text(child)}")
                remaining_s = deadline_s - now()
                if remaining_s <= 0:
                    raise Unavailable(f"{self.name}/{role} is still restarting at the deadline")
                self.cond.wait(min(remaining_s, _WAIT_SLICE_S))

    def wait_for(self, check: Callable[[], bool], timeout_s: float) -> bool:
        """True once `check()` holds; looked at after each change of the table (real seconds)."""
        with self.cond:
            return self.cond.wait_for(check, timeout_s)

    def state_text(self, child: Child) -> str:
        return "given up" if self.state == "gave_up" else child.state

    def summary_state(self) -> str:
        with self.cond:
            if self.state != "running":
                return self.state
            if any(child.state == "restarting" for child in self.children):
                return "restarting"
            return "running"

    def counts(self) -> tuple[int, int]:
        """(restarts, failures), as `describe` counts them, without describing every child."""
        with self.cond:
            return self.restarts, self.failures

    def describe(self) -> dict[str, Any]:
        """{"state", "restarts", "failures", "actors": [{"role", "generation", "state", "restarts",
        "failures", "last_failure"}]}: `restarts` counts every generation after the first (a
        sibling taken along too), `failures` only the children that died or hung."""
        with self.cond:
            actors = [
                {
                    "role": child.role,
                    "generation": child.generation,
                    "state": child.state,
                    "restarts": child.restarts,
                    "failures": child.failures,
                    "last_failure": child.last_failure,
                }
                for child in self.children
            ]
            summary = self.summary_state()
            return {"state": summary, "restarts": self.restarts, "failures": self.failures, "actors": actors}

    def next_due(self, now_s: float, *, ordered: bool) -> Child | None:
        """The first child whose restart is due; when `ordered`, none behind one still waiting."""
        with self.cond:
            for child in self.children:
                if child.state != "restarting" or child.due_s is None:
                    continue
                if child.due_s <= now_s:
                    return child
                if ordered:
                    return None
            return None

    def next_due_in_s(self, now_s: float) -> float | None:
        """Seconds until the next restart is due; None when none is pending.

        A restart already due but not started waits for a predecessor's, which is ahead.
        """
        ahead_s = [due_s - now_s for due_s in self.pending_restarts().values() if due_s > now_s]
        return min(ahead_s, default=None)

    def busy_since(self) -> dict[str, float]:
        """Role → when its running generation began its current handler (busy ones only)."""
        with self.cond:
            leases = [(c.role, c.lease) for c in self.children if c.state == "running"]
        return {role: s for role, lease in leases if lease and (s := lease.busy_since_s) is not None}

    def pending_restarts(self) -> dict[str, float]:
        """Role → the clock's time at which its restart is due."""
        with self.cond:
            return {c.role: c.due_s for c in self.children if c.due_s is not None}

    def views(self) -> list[ChildView]:
        with self.cond:
            return [child.view() for child in self.children]
