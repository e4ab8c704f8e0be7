"""A supervision tree for pykka actors in the manner of Erlang/OTP.

A `Supervisor` starts its children in order, learns of their deaths (reports from
`SupervisedActor`, a failed start, the health scan), carries out the failure plan
(`plan`) with backoff, fences every dead or abandoned generation by revoking its lease,
and gives up past its restart intensity. The child table (`children`) holds what callers
read, the addresses (`addressing`) reach a role through a restart, the health
(`health`) finds hung and silently dead children. All decisions happen in `poll()`,
which the process's shared runtime (`runtime`) calls when there is news or a restart
is due; tests may call it directly with a `FakeClock`.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from supervisor.tree.addressing import Addresses
from supervisor.tree.backoff import Backoff, IntensityWindow
from supervisor.tree.children import Child, ChildTable
from supervisor.tree.health import Health, Report
from supervisor.tree.lease import FailureKind, Lease
from supervisor.tree.manual import ManualControl
from supervisor.tree.plan import Death, plan_failure
from supervisor.tree.runtime import Runner, Runtime, shared_runtime
from supervisor.tree.settings import SupervisionSettings
from supervisor.tree.specs import ChildSpec, EventKind, Strategy, SupervisionEvent

__all__ = ["Clock", "Supervisor"]

logger = logging.getLogger(__name__)


class Clock(Protocol):
    """The time a supervisor measures intervals with (structural: any `monotonic()` will do)."""

    def monotonic(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()


class Supervisor(Addresses, ManualControl):
    """Supervises an ordered list of children with one strategy; see the module docstring.

    An operator's decisions (terminate, restart a child, restart all) come from `ManualControl`.
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
        runtime: Runtime | None = None,
    ) -> None:
        if len({spec.role for spec in children}) != len(children):
            raise ValueError(f"{name}: child roles must be unique")
        self.name = name
        self.strategy = strategy
        self._limits = limits or SupervisionSettings()
        self._clock = clock or SystemClock()
        self._on_event = on_event
        self._on_give_up = on_give_up
        rng = rng or random.Random()
        self._table = ChildTable(name, [Child(spec, Backoff(self._limits, rng)) for spec in children])
        Addresses.__init__(self, self._table, self._clock.monotonic)  # ref, ask, tell, describe ...
        self._health = Health(self._limits)
        self._intensity = IntensityWindow(self._limits.intensity, self._limits.period_s)
        self._poll_lock = threading.RLock()  # serialises decisions; held across bounded waits
        self._reports: queue.SimpleQueue[Report] = queue.SimpleQueue()
        self._stall_s = 0.0
        self._halted = threading.Event()  # set by stop: ends a chaos stall
        scan_s = self._limits.ping_interval_s
        self._runner = Runner(runtime or shared_runtime(), self.poll, self._next_poll_s, self._scan, scan_s)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the children in order (each past its `on_start`) and the supervisor's thread.

        Also brings a given-up supervisor back, with fresh restart intensity and backoff.
        """
        self._halted.clear()
        with self._poll_lock:
            if self._table.state == "running":
                return
            self._intensity.reset()
            now_s = self._clock.monotonic()
            for child in self._table.children:
                child.backoff.reset()
                self._table.schedule(child, now_s, is_restart=False)
            self._table.set_state("running")
            self._health.restart_rounds(now_s)
            self._run_due()
        self._runner.start()

    def stop(self) -> None:
        """Stop the thread, then the children in reverse order, each within its shutdown timeout."""
        self._halted.set()
        self._runner.stop()
        with self._poll_lock:
            self._table.stop_all("stopped")
            self._table.set_state("stopped")
            self._drop_reports()

    # --- reports from children (any thread, never blocking) ---------------------------

    def child_failed(self, role: str, generation: int, reason: str, kind: FailureKind = "counted") -> None:
        self._report(Report(role, generation, "crashed", reason, kind))

    def child_exited(self, role: str, generation: int) -> None:
        self._report(Report(role, generation, "exited", "stopped by itself"))

    def _report(self, report: Report) -> None:
        self._reports.put(report)
        self._runner.wake()

    # --- operations: liveness, limits, chaos ------------------------------------------

    def loop_alive(self) -> bool:
        """False once this supervisor's decisions are stuck: a poll (or its wait for a worker)
        lasting longer than the longest step can take (a handshake, then stopping every child
        within its shutdown timeout), or the runtime's timer not turning for as long."""
        bound_s = self._limits.ping_interval_s + self._longest_poll_s()
        return self._runner.busy_s() <= bound_s and self._runner.runtime_alive(bound_s)

    def set_limits(self, limits: SupervisionSettings) -> None:
        """New restart limits from now on (a reload): a fresh intensity window and failure streaks."""
        with self._poll_lock:
            self._limits = limits
            self._intensity = IntensityWindow(limits.intensity, limits.period_s)
            with self._table.cond:
                self._health = Health(limits)
                self._health.restart_rounds(self._clock.monotonic())
            self._runner.scan_s = limits.ping_interval_s
            rng = random.Random()
            for child in self._table.children:
                child.backoff = Backoff(limits, rng)

    def stall(self, seconds: float) -> None:
        """Chaos: the next poll blocks for `seconds` first (what watches the supervisor must notice)."""
        self._stall_s = seconds
        self._runner.wake()

    def _longest_poll_s(self) -> float:
        shutdowns_s = sum(c.spec.shutdown_timeout_s for c in self._table.children)
        return self._limits.ping_timeout_s + shutdowns_s + 1.0

    # --- the decisions -----------------------------------------------------------------

    def poll(self) -> None:
        """Do what is due at clock.monotonic(): scan the children's health, handle reports, restart."""
        if self._stall_s > 0:  # chaos_hang_supervisor; a stop ends it
            stall_s, self._stall_s = self._stall_s, 0.0
            self._halted.wait(stall_s)
        with self._poll_lock:
            if self._table.state != "running":
                self._drop_reports()
                return
            for report in self._health.scan(self._table.children, self._clock.monotonic()):
                self._reports.put(report)
            self._handle_reports()
            self._run_due()

    def _handle_reports(self) -> None:
        while not self._reports.empty():
            report = self._reports.get_nowait()
            child = self._table.find(report.role)
            if child is None or child.generation != report.generation or child.state != "running":
                continue  # a stale generation, or one the supervisor is stopping itself
            if self._table.state == "running":
                self._failed(child, report.death, report.reason, report.kind)

    def _failed(self, child: Child, death: Death, reason: str, kind: FailureKind = "counted") -> None:
        """A running (or just started) generation died, hung or exited; carry out the plan."""
        now_s = self._clock.monotonic()
        views = self._table.views()
        recent = self._intensity.recent(now_s)
        plan = plan_failure(self.strategy, views, child.role, death, recent, self._limits.intensity, kind)
        self._table.retire(child, "restarting" if child.role in plan.restart else "stopped")  # callers wait
        if plan.keep_reason:
            self._table.failed(child, reason)
        if plan.event is not None:
            self._emit(child, plan.event, reason)
        if plan.counted:
            self._intensity.record(now_s)
        if plan.give_up:
            self._escalate(child, reason, kind)
            return
        if not plan.restart:
            return
        due_s = now_s + child.backoff.next_delay_s(now_s)
        for role in plan.stop:
            self._table.stop(self._table.child(role), "restarting" if role in plan.restart else "stopped")
        for role in plan.restart:
            again = self._table.child(role)
            restart_due_s = due_s if again is child else max(due_s, again.due_s or due_s)
            self._table.schedule(again, restart_due_s, is_restart=again is child or again.generation > 0)

    def _escalate(self, child: Child, reason: str, kind: FailureKind) -> None:
        limits = self._limits
        why = f"more than {limits.intensity} failures in {limits.period_s} s; last: {reason}"
        if kind == "fatal":
            why = f"a failure past every limit: {reason}"
        self._emit(child, "escalated", why)
        self._table.stop_all("stopped")
        self._table.set_state("gave_up")
        self._emit(child, "gave_up", why)
        if self._on_give_up is not None:
            self._on_give_up(self.name)

    def _run_due(self) -> None:
        """Start the due children, one at a time in order (later ones may wait for earlier ones)."""
        ordered = self.strategy != "one_for_one"
        while self._table.state == "running":
            child = self._table.next_due(self._clock.monotonic(), ordered=ordered)
            if child is None:
                return
            self._start_child(child)

    # --- one child -----------------------------------------------------------------------

    def _start_child(self, child: Child) -> None:
        role, generation, reason = child.role, child.generation + 1, child.due_reason
        lease = Lease(
            role,
            generation,
            on_failure=partial(self.child_failed, role, generation),
            on_exit=partial(self.child_exited, role, generation),
            clock=self._clock.monotonic,
        )
        self._table.begin(child, lease)
        try:
            ref = child.spec.start(lease)
        except Exception as exc:  # noqa: BLE001 - any error of a factory is a failed start
            self._failed(child, "crashed", f"start failed: {exc!r}")
            return
        self._table.started(child, ref)
        failure = self._health.handshake(ref)
        if failure is not None:
            self._failed(child, *failure)
            return
        restarted = self._table.mark_running(child)
        self._emit(child, "restarted" if restarted else "started", reason)

    def _emit(self, child: Child, event: EventKind, reason: str) -> None:
        if self._on_event is None:
            return
        evt = SupervisionEvent(self.name, child.role, event, child.generation, reason, child.restarts)
        try:
            self._on_event(evt)
        except Exception:
            logger.exception("%s: on_event failed for %s", self.name, evt)

    def _drop_reports(self) -> None:
        while not self._reports.empty():
            self._reports.get_nowait()

    def _scan(self) -> None:
        """The health scan, from the runtime's timer thread: reports what it finds, never waits."""
        if self._table.state != "running":
            return
        with self._table.cond:
            reports = self._health.scan(self._table.children, self._clock.monotonic())
        for report in reports:
            self._report(report)

    def _next_poll_s(self) -> float | None:
        return self._table.next_due_in_s(self._clock.monotonic())
