"""A supervision tree for pykka actors in the manner of Erlang/OTP.

A `Supervisor` starts its children in order, learns of their deaths (reports from
`SupervisedActor`, a failed start, a ping left unanswered), restarts them by its
strategy with backoff, fences every dead or abandoned generation by revoking its lease,
and gives up past its restart intensity. All its decisions happen in `poll()`, which its
own daemon thread calls; tests may call it directly with a `FakeClock`.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

import pykka

from supervisor.tree.backoff import Backoff, IntensityWindow
from supervisor.tree.errors import Unavailable
from supervisor.tree.lease import Lease
from supervisor.tree.settings import SupervisionSettings
from supervisor.tree.specs import ChildSpec, ChildState, EventKind, Strategy, SupervisionEvent
from supervisor.tree.supervised import Ping

__all__ = ["Clock", "Supervisor"]


class Clock(Protocol):
    """The time a supervisor measures intervals with (structural: any `monotonic()` will do)."""

    def monotonic(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()


logger = logging.getLogger(__name__)

_Death = Literal["crashed", "hung", "exited"]

_WAIT_SLICE_S = 0.05  # real seconds between looks at the injected clock while waiting


class _Superseded(Exception):
    """The generation an ask was sent to was fenced before it answered."""


@dataclass(frozen=True)
class _Report:
    role: str
    generation: int
    death: _Death
    reason: str


@dataclass(eq=False)
class _Child:
    spec: ChildSpec
    backoff: Backoff
    generation: int = 0
    state: ChildState = "stopped"
    ref: pykka.ActorRef[Any] | None = None
    lease: Lease | None = None
    restarts: int = 0
    last_failure: str | None = None
    due_s: float | None = None
    is_restart: bool = False
    ping: pykka.Future[Any] | None = None
    ping_sent_s: float = 0.0
    seen_dead: bool = False


class Supervisor:
    """Supervises an ordered list of children with one strategy; see the module docstring.

    `ping_message` is what the children answer to prove they are alive (default: `Ping()`,
    which `SupervisedActor` answers; any answer, even an error, counts).
    """

    def __init__(
        self,
        name: str,
        children: Sequence[ChildSpec],
        strategy: Strategy = "one_for_one",
        limits: SupervisionSettings | None = None,
        clock: Clock | None = None,
        on_event: Callable[[SupervisionEvent], None] | None = None,
        on_give_up: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
        ping_message: Any = None,
    ) -> None:
        if len({spec.role for spec in children}) != len(children):
            raise ValueError(f"{name}: child roles must be unique")
        self.name = name
        self.strategy = strategy
        self._limits = limits or SupervisionSettings()
        self._clock = clock or SystemClock()
        self._on_event = on_event
        self._on_give_up = on_give_up
        self._ping_message = Ping() if ping_message is None else ping_message
        rng = rng or random.Random()
        self._children = [_Child(spec, Backoff(self._limits, rng)) for spec in children]
        self._by_role = {child.spec.role: child for child in self._children}
        self._intensity = IntensityWindow(self._limits.intensity, self._limits.period_s)
        self._state: Literal["stopped", "running", "gave_up"] = "stopped"
        self._restarts = 0
        self._next_ping_s = 0.0
        self._poll_lock = threading.RLock()  # serialises decisions; held across bounded waits
        self._cond = threading.Condition()  # guards what callers read: states and refs
        self._reports: queue.SimpleQueue[_Report] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the children in order (each past its `on_start`) and the supervisor's thread.

        Also brings a given-up supervisor back, with fresh restart intensity and backoff.
        """
        with self._poll_lock:
            if self._state == "running":
                return
            self._intensity.reset()
            for child in self._children:
                child.backoff.reset()
                self._schedule(child, self._clock.monotonic(), is_restart=False)
            self._set_supervisor_state("running")
            self._next_ping_s = self._clock.monotonic() + self._limits.ping_interval_s
            self._run_due()
        self._start_thread()

    def stop(self) -> None:
        """Stop the thread, then the children in reverse order, each within its shutdown timeout."""
        self._halt_thread()
        with self._poll_lock:
            self._stop_children("stopped")
            self._set_supervisor_state("stopped")
            self._drop_reports()

    def reset(self) -> None:
        """Bring the supervisor back from any state: stop everything, start afresh."""
        self.stop()
        self.start()

    def terminate_child(self, role: str) -> None:
        """Stop one child for good (an operator's decision); it is not restarted."""
        with self._poll_lock:
            child = self._child(role)
            if child.state == "running":
                self._stop_child(child, "stopped")
            else:
                self._retire(child, "stopped")

    def restart_child(self, role: str) -> None:
        """Start a stopped child again now (an operator's decision)."""
        with self._poll_lock:
            child = self._child(role)
            if self._state != "running" or child.state != "stopped":
                raise Unavailable(f"{self.name}/{role} is {self._child_state_text(child)}")
            child.backoff.reset()
            self._schedule(child, self._clock.monotonic(), is_restart=False)
            self._run_due()

    # --- reports from children (any thread, never blocking) ---------------------------

    def child_failed(self, role: str, generation: int, reason: str) -> None:
        self._reports.put(_Report(role, generation, "crashed", reason))
        self._wake.set()

    def child_exited(self, role: str, generation: int) -> None:
        self._reports.put(_Report(role, generation, "exited", "stopped by itself"))
        self._wake.set()

    # --- addresses ---------------------------------------------------------------------

    def ref(self, role: str) -> pykka.ActorRef[Any]:
        """The running generation of `role`; Unavailable when there is none right now."""
        with self._cond:
            child = self._child(role)
            if child.state != "running" or child.ref is None:
                raise Unavailable(f"{self.name}/{role} is {self._child_state_text(child)}")
            return child.ref

    def wait_ref(self, role: str, deadline_monotonic: float) -> pykka.ActorRef[Any]:
        """The running generation of `role`, waiting through a restart until the deadline."""
        return self._wait_ref(role, deadline_monotonic, stale=None)

    def ask(self, role: str, message: Any, timeout_s: float) -> Any:
        """Ask the current generation of `role`; resend to a new generation only if never handled.

        pykka fails an ask with ActorDeadError in exactly two places, both before the
        message reaches a handler: at ask time when the actor is already stopped, and in
        the dying actor's teardown for every message still queued. Both name the actor;
        an ActorDeadError from elsewhere (a handler that asked a dead peer) is re-raised.
        A message queued behind a hung generation is resent once that generation is
        fenced: whenever the stale one gets to it, its revoked lease refuses every effect.
        A timeout is raised as pykka.Timeout: the message may still run (fenced).
        """
        deadline_s = self._clock.monotonic() + timeout_s
        stale: pykka.ActorRef[Any] | None = None
        while True:
            ref = self._wait_ref(role, deadline_s, stale)
            future = ref.ask(message, block=False)
            try:
                return self._await(role, ref, future, deadline_s)
            except pykka.ActorDeadError as exc:
                if not _never_handled(exc, ref):
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
        ref = self.ref(role)
        deadline_s = time.monotonic() + timeout_s
        try:
            return self._await(role, ref, ref.ask(message, block=False), deadline_s, time.monotonic)
        except _Superseded:
            raise Unavailable(f"{self.name}/{role} was retired while asked") from None
        except pykka.ActorDeadError as exc:
            if not _never_handled(exc, ref):
                raise
            raise Unavailable(f"{self.name}/{role} died before it answered") from None

    def _await(
        self,
        role: str,
        ref: pykka.ActorRef[Any],
        future: pykka.Future[Any],
        deadline_s: float,
        now: Callable[[], float] | None = None,
    ) -> Any:
        clock = now or self._clock.monotonic
        while True:
            remaining_s = deadline_s - clock()
            if remaining_s <= 0:
                raise pykka.Timeout(f"{self.name}/{role} did not answer in time")
            try:
                return future.get(timeout=min(remaining_s, _WAIT_SLICE_S))
            except pykka.Timeout:
                if self._superseded(role, ref):
                    raise _Superseded() from None

    def _superseded(self, role: str, ref: pykka.ActorRef[Any]) -> bool:
        """True once the generation behind `ref` was retired (fenced) while running."""
        with self._cond:
            child = self._child(role)
            return child.ref is not ref

    # --- visibility --------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """{"state", "restarts", "actors": [{"role", "generation", "state", "restarts", "last_failure"}]}."""
        with self._cond:
            actors = [
                {
                    "role": child.spec.role,
                    "generation": child.generation,
                    "state": child.state,
                    "restarts": child.restarts,
                    "last_failure": child.last_failure,
                }
                for child in self._children
            ]
            return {"state": self._summary_state(), "restarts": self._restarts, "actors": actors}

    def pending_restarts(self) -> dict[str, float]:
        """Role → clock.monotonic() time at which its restart is due."""
        with self._cond:
            return {c.spec.role: c.due_s for c in self._children if c.due_s is not None}

    def pings_outstanding(self) -> list[str]:
        """Roles whose last ping has not been answered yet."""
        with self._cond:
            return [c.spec.role for c in self._children if c.ping is not None and not _done(c.ping)]

    @property
    def state(self) -> str:
        with self._cond:
            return self._summary_state()

    # --- the decisions -----------------------------------------------------------------

    def poll(self) -> None:
        """Do what is due at clock.monotonic(): handle reports, ping, detect hangs, restart."""
        with self._poll_lock:
            if self._state != "running":
                self._drop_reports()
                return
            self._handle_reports()
            self._check_pings()
            self._run_due()

    def _handle_reports(self) -> None:
        while not self._reports.empty():
            report = self._reports.get_nowait()
            child = self._by_role.get(report.role)
            if child is None or child.generation != report.generation or child.state != "running":
                continue  # a stale generation, or one the supervisor is stopping itself
            self._failed(child, report.death, report.reason)

    def _check_pings(self) -> None:
        now_s = self._clock.monotonic()
        ping_round = now_s >= self._next_ping_s
        if ping_round:
            self._next_ping_s = now_s + self._limits.ping_interval_s
        for child in list(self._children):
            if child.state == "running" and self._state == "running":
                self._check_child(child, now_s, ping_round)

    def _check_child(self, child: _Child, now_s: float, ping_round: bool) -> None:
        assert child.ref is not None
        if child.ping is not None:
            if _done(child.ping):
                child.ping = None
            elif now_s - child.ping_sent_s >= self._limits.ping_timeout_s:
                timeout_s = self._limits.ping_timeout_s
                self._failed(child, "hung", f"no answer to a ping within {timeout_s} s")
                return
        if not ping_round:
            return
        if not child.ref.is_alive():
            if child.seen_dead:
                self._failed(child, "crashed", "stopped without a report")
            else:
                child.seen_dead = True  # its report may still be on its way: judge at the next round
            return
        if child.ping is None:
            child.ping = child.ref.ask(self._ping_message, block=False)
            child.ping_sent_s = now_s

    def _failed(self, child: _Child, death: _Death, reason: str) -> None:
        """A running (or just started) generation died, hung or exited; apply the strategy."""
        self._retire(child, "stopped")
        restart = child.spec.restart == "permanent" or (
            child.spec.restart == "transient" and death != "exited"
        )
        if death != "exited":
            child.last_failure = reason
        if death != "exited" or restart:
            self._emit(child, "hung" if death == "hung" else "crashed", reason)
        if not restart:
            return
        now_s = self._clock.monotonic()
        if self._intensity.record(now_s):
            self._escalate(child, reason)
            return
        due_s = now_s + child.backoff.next_delay_s(now_s)
        siblings = self._affected_siblings(child)
        for sibling in reversed(siblings):
            if sibling.state == "running":
                self._stop_child(sibling, "restarting")
        self._schedule(child, due_s, is_restart=True)
        for sibling in siblings:
            if sibling.spec.restart != "temporary" and sibling.state == "restarting":
                restart_due_s = max(due_s, sibling.due_s or due_s)
                self._schedule(sibling, restart_due_s, is_restart=sibling.generation > 0)

    def _affected_siblings(self, child: _Child) -> list[_Child]:
        if self.strategy == "one_for_all":
            return [c for c in self._children if c is not child]
        if self.strategy == "rest_for_one":
            return self._children[self._children.index(child) + 1 :]
        return []

    def _escalate(self, child: _Child, reason: str) -> None:
        limits = self._limits
        why = f"more than {limits.intensity} failures in {limits.period_s} s; last: {reason}"
        self._emit(child, "escalated", why)
        self._stop_children("stopped")
        self._set_supervisor_state("gave_up")
        self._emit(child, "gave_up", why)
        if self._on_give_up is not None:
            self._on_give_up(self.name)

    def _run_due(self) -> None:
        while self._state == "running" and self._start_next_due():
            pass

    def _start_next_due(self) -> bool:
        """Start the first due child (in order); False when none is due."""
        ordered = self.strategy != "one_for_one"
        now_s = self._clock.monotonic()
        for child in self._children:
            if child.state != "restarting" or child.due_s is None:
                continue
            if child.due_s <= now_s:
                self._start_child(child)
                return True
            if ordered:
                return False  # later children wait for this one
        return False

    # --- one child -----------------------------------------------------------------------

    def _start_child(self, child: _Child) -> None:
        role = child.spec.role
        child.generation += 1
        generation = child.generation
        lease = Lease(
            role,
            generation,
            on_failure=partial(self.child_failed, role, generation),
            on_exit=partial(self.child_exited, role, generation),
        )
        with self._cond:
            child.lease, child.due_s = lease, None
        try:
            ref = child.spec.start(lease)
        except Exception as exc:  # noqa: BLE001 - any error of a factory is a failed start
            self._failed(child, "crashed", f"start failed: {exc!r}")
            return
        with self._cond:
            child.ref = ref
        failure = self._handshake(ref)
        if failure is not None:
            self._failed(child, failure[0], failure[1])
            return
        self._mark_running(child)

    def _handshake(self, ref: pykka.ActorRef[Any]) -> tuple[_Death, str] | None:
        """Wait for the new actor to answer a ping: proof that its `on_start` succeeded."""
        timeout_s = self._limits.ping_timeout_s
        try:
            ref.ask(self._ping_message, timeout=timeout_s)
        except pykka.ActorDeadError:
            return ("crashed", "on_start failed")
        except pykka.Timeout:
            return ("hung", f"on_start did not finish within {timeout_s} s")
        except Exception:  # noqa: BLE001 - an error reply still proves the loop runs
            return None
        return None

    def _mark_running(self, child: _Child) -> None:
        is_restart = child.is_restart
        with self._cond:
            child.state = "running"
            child.ping, child.seen_dead = None, False
            if is_restart:
                child.restarts += 1
                self._restarts += 1
            self._cond.notify_all()
        self._emit(child, "restarted" if is_restart else "started", "")

    def _schedule(self, child: _Child, due_s: float, *, is_restart: bool) -> None:
        with self._cond:
            child.state, child.due_s, child.is_restart = "restarting", due_s, is_restart
            self._cond.notify_all()

    def _retire(self, child: _Child, state: ChildState) -> None:
        """Fence a dead or abandoned generation: revoke its lease, ask it to stop, never wait."""
        ref, lease = child.ref, child.lease
        with self._cond:
            child.state, child.ref, child.lease, child.ping, child.due_s = state, None, None, None, None
            self._cond.notify_all()
        if lease is not None:
            lease.revoke()
        if ref is not None and ref.is_alive():
            ref.stop(block=False)

    def _stop_child(self, child: _Child, state: ChildState) -> None:
        """Stop a running child within its shutdown timeout, or abandon it; then revoke its lease."""
        ref, lease = child.ref, child.lease
        with self._cond:
            child.state, child.ref, child.lease, child.ping, child.due_s = state, None, None, None, None
            self._cond.notify_all()
        if ref is not None:
            try:
                ref.stop(block=True, timeout=child.spec.shutdown_timeout_s)
            except pykka.Timeout:
                logger.warning("%s/%s did not stop in time: abandoned", self.name, child.spec.role)
        if lease is not None:
            lease.revoke()

    def _stop_children(self, state: ChildState) -> None:
        for child in reversed(self._children):
            if child.state == "running":
                self._stop_child(child, state)
            else:
                self._retire(child, state)

    # --- helpers -------------------------------------------------------------------------

    def _wait_ref(
        self, role: str, deadline_s: float, stale: pykka.ActorRef[Any] | None
    ) -> pykka.ActorRef[Any]:
        with self._cond:
            child = self._child(role)
            while True:
                if child.state == "running" and child.ref is not None and child.ref is not stale:
                    return child.ref
                if self._state != "running" or child.state == "stopped":
                    raise Unavailable(f"{self.name}/{role} is {self._child_state_text(child)}")
                remaining_s = deadline_s - self._clock.monotonic()
                if remaining_s <= 0:
                    raise Unavailable(f"{self.name}/{role} is still restarting at the deadline")
                self._cond.wait(min(remaining_s, _WAIT_SLICE_S))

    def _child(self, role: str) -> _Child:
        child = self._by_role.get(role)
        if child is None:
            raise KeyError(f"{self.name} has no child {role!r}")
        return child

    def _child_state_text(self, child: _Child) -> str:
        return "given up" if self._state == "gave_up" else child.state

    def _summary_state(self) -> str:
        if self._state != "running":
            return self._state
        if any(child.state == "restarting" for child in self._children):
            return "restarting"
        return "running"

    def _set_supervisor_state(self, state: Literal["stopped", "running", "gave_up"]) -> None:
        with self._cond:
            self._state = state
            self._cond.notify_all()

    def _emit(self, child: _Child, event: EventKind, reason: str) -> None:
        if self._on_event is None:
            return
        evt = SupervisionEvent(self.name, child.spec.role, event, child.generation, reason, child.restarts)
        try:
            self._on_event(evt)
        except Exception:
            logger.exception("%s: on_event failed for %s", self.name, evt)

    def _drop_reports(self) -> None:
        while not self._reports.empty():
            self._reports.get_nowait()

    # --- the thread ----------------------------------------------------------------------

    def _start_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._halt.clear()
        self._thread = threading.Thread(target=self._run, name=f"supervisor-{self.name}", daemon=True)
        self._thread.start()

    def _halt_thread(self) -> None:
        self._halt.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._longest_poll_s())

    def _longest_poll_s(self) -> float:
        return self._limits.ping_timeout_s + sum(c.spec.shutdown_timeout_s for c in self._children) + 1.0

    def _run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(self._sleep_s())
            self._wake.clear()
            if self._halt.is_set():
                return
            try:
                self.poll()
            except Exception:
                logger.exception("%s: supervision step failed", self.name)

    def _sleep_s(self) -> float:
        now_s = self._clock.monotonic()
        dues_s = [c.due_s for c in self._children if c.due_s is not None] + [self._next_ping_s]
        ahead_s = [due_s - now_s for due_s in dues_s if due_s > now_s]  # others wait for a predecessor
        return min([*ahead_s, self._limits.ping_interval_s])


def _done(future: pykka.Future[Any]) -> bool:
    try:
        future.get(timeout=0)
    except pykka.Timeout:
        return False
    except Exception:  # noqa: BLE001 - an error answer is an answer
        return True
    return True


def _never_handled(exc: pykka.ActorDeadError, ref: pykka.ActorRef[Any]) -> bool:
    """True when pykka raised `exc` for `ref` itself before the message reached a handler."""
    return str(exc) in (f"{ref} not found", f"{ref} stopped before handling the message")
