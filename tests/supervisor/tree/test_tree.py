"""The supervision tree with real pykka actors; time moves only by FakeClock where it matters."""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pykka
import pytest

from drivers.clock import FakeClock
from supervisor.tree import (
    ChildSpec,
    Fenced,
    Lease,
    RestartType,
    Strategy,
    SupervisedActor,
    SupervisionEvent,
    SupervisionSettings,
    Supervisor,
    Unavailable,
)
from supervisor.tree.backoff import Backoff, IntensityWindow, restart_delay_s
from supervisor.tree.nesting import supervisor_child

WAIT_S = 5.0
ROLES = ("hardware", "meter", "reservation", "session")
LIMITS = SupervisionSettings(
    intensity=5, period_s=30.0, backoff_min_s=0.05, backoff_max_s=5.0, ping_interval_s=0.5, ping_timeout_s=1.0
)


# --- messages and the test actor ---------------------------------------------------------


@dataclass(frozen=True)
class Crash:
    """Told: the handler raises, so the actor dies."""


@dataclass(frozen=True)
class Quit:
    """Told: the actor stops itself normally."""


@dataclass(frozen=True)
class Record:
    """Asked: append to the journal if the lease still holds; returns the generation."""

    text: str


@dataclass(frozen=True)
class Gate:
    """Told: block until `release` is set, then try to record `text` under the lease."""

    entered: threading.Event
    release: threading.Event
    done: threading.Event
    text: str = "late"


@dataclass(frozen=True)
class AskPeer:
    """Asked: ask another actor, letting its ActorDeadError escape."""

    ref: pykka.ActorRef[Any]


@dataclass
class World:
    """What the test actors share with the test: a journal and per-role plans."""

    journal: list[tuple[str, int, str]] = field(default_factory=list)
    lifecycle: list[tuple[str, str]] = field(default_factory=list)
    fail_starts: dict[str, int] = field(default_factory=dict)
    hang_start: dict[str, threading.Event] = field(default_factory=dict)
    leases: dict[str, list[Lease]] = field(default_factory=dict)
    refusals: list[tuple[str, int]] = field(default_factory=list)


class WatchedInbox(queue.SimpleQueue[Any]):
    """The supervised actor's inbox, telling a test of each message put in it."""

    def __init__(self) -> None:
        super().__init__()
        self.put_cond = threading.Condition()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        with self.put_cond:
            self.put_cond.notify_all()


class Worker(SupervisedActor):
    def __init__(self, lease: Lease, world: World) -> None:
        super().__init__(lease)
        self.world = world

    @staticmethod
    def _create_actor_inbox() -> Any:
        return WatchedInbox()

    def on_start(self) -> None:
        role = self.lease.role
        hang = self.world.hang_start.pop(role, None)
        if hang is not None:
            hang.wait(WAIT_S)
        if self.world.fail_starts.get(role, 0) > 0:
            self.world.fail_starts[role] -= 1
            raise RuntimeError(f"{role} cannot start")
        self.world.lifecycle.append(("start", role))

    def on_stop(self) -> None:
        self.world.lifecycle.append(("stop", self.lease.role))
        super().on_stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise RuntimeError("told to crash")
        if isinstance(message, Quit):
            self.stop()
            return None
        if isinstance(message, Record):
            return self._record(message.text)
        if isinstance(message, Gate):
            return self._gate(message)
        if isinstance(message, AskPeer):
            return message.ref.ask(Record("via peer"), timeout=WAIT_S)
        return super().on_receive(message)

    def _record(self, text: str) -> int:
        self.lease.check()
        self.world.journal.append((self.lease.role, self.lease.generation, text))
        return self.lease.generation

    def _gate(self, gate: Gate) -> None:
        gate.entered.set()
        gate.release.wait(WAIT_S)
        try:
            self._record(gate.text)
        except Fenced:
            self.world.refusals.append((self.lease.role, self.lease.generation))
        finally:
            gate.done.set()


def worker_spec(
    world: World, role: str, restart: RestartType = "permanent", shutdown_timeout_s: float = 1.0
) -> ChildSpec:
    def start(lease: Lease) -> pykka.ActorRef[Any]:
        world.leases.setdefault(role, []).append(lease)
        return Worker.start(lease, world)

    return ChildSpec(role, start, restart, shutdown_timeout_s)


# --- the harness -------------------------------------------------------------------------


class Events:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[SupervisionEvent] = []

    def __call__(self, event: SupervisionEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def of(self, kind: str, role: str | None = None) -> list[SupervisionEvent]:
        with self._cond:
            return [e for e in self.items if e.event == kind and role in (None, e.role)]

    def wait(self, kind: str, role: str | None = None, count: int = 1) -> SupervisionEvent:
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.of(kind, role)) >= count, WAIT_S)
        assert ok, f"no {count} x {kind} {role}: {self.items}"
        return self.of(kind, role)[count - 1]


@dataclass
class Harness:
    clock: FakeClock
    events: Events
    world: World
    gave_up: list[str]
    supervisors: list[Supervisor]
    releases: list[threading.Event]

    def supervisor(
        self,
        specs: list[ChildSpec] | None = None,
        strategy: Strategy = "one_for_one",
        limits: SupervisionSettings = LIMITS,
        name: str = "evse/1",
    ) -> Supervisor:
        specs = specs if specs is not None else [worker_spec(self.world, role) for role in ROLES]
        sup = Supervisor(
            name,
            specs,
            strategy,
            limits,
            self.clock,
            self.events,
            self.gave_up.append,
            random.Random(7),
        )
        self.supervisors.append(sup)
        return sup

    def gate(self) -> Gate:
        release = threading.Event()
        self.releases.append(release)
        return Gate(threading.Event(), release, threading.Event())


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness(FakeClock(), Events(), World(), [], [], [])
    yield harness
    for release in harness.releases:
        release.set()
    for hang in harness.world.hang_start.values():
        hang.set()
    for sup in harness.supervisors:
        sup.stop()
    pykka.ActorRegistry.stop_all(block=True, timeout=WAIT_S)


def crash(sup: Supervisor, role: str) -> pykka.ActorRef[Any]:
    ref = sup.ref(role)
    ref.tell(Crash())
    return ref


def generations(sup: Supervisor) -> dict[str, int]:
    return {a["role"]: a["generation"] for a in sup.describe()["actors"]}


# --- pacing, without actors --------------------------------------------------------------


def test_restart_delay_first_immediate_then_doubling_with_jitter() -> None:
    rng = random.Random(1)
    assert restart_delay_s(1, LIMITS, rng) == 0.0
    for streak, base_s in [(2, 0.05), (3, 0.1), (4, 0.2), (5, 0.4)]:
        for _ in range(50):
            assert 0.8 * base_s <= restart_delay_s(streak, LIMITS, rng) <= 1.2 * base_s
    for _ in range(50):
        assert 0.8 * 5.0 <= restart_delay_s(40, LIMITS, rng) <= 5.0


def test_backoff_resets_after_a_quiet_period() -> None:
    backoff = Backoff(LIMITS, random.Random(2))
    assert backoff.next_delay_s(0.0) == 0.0
    assert backoff.next_delay_s(1.0) > 0.0
    assert backoff.next_delay_s(2.0) > 0.08  # third in a row: about 0.1 s
    assert backoff.next_delay_s(2.0 + LIMITS.period_s) == 0.0


def test_intensity_window_counts_failures_within_the_period() -> None:
    window = IntensityWindow(intensity=2, period_s=10.0)
    assert not window.record(0.0)
    assert not window.record(5.0)
    assert window.record(9.0)
    window.reset()
    assert not window.record(20.0)
    assert not window.record(29.0)
    assert not window.record(31.0)  # the one at 20 s has left the window


# --- start, stop and the strategies ------------------------------------------------------


def test_start_in_order_and_stop_in_reverse(h: Harness) -> None:
    sup = h.supervisor()
    sup.start()
    assert h.world.lifecycle == [("start", role) for role in ROLES]
    assert [e.role for e in h.events.of("started")] == list(ROLES)
    described = sup.describe()
    assert described["state"] == "running" and described["restarts"] == described["failures"] == 0
    assert described["actors"][0] == {
        "role": "hardware",
        "generation": 1,
        "state": "running",
        "restarts": 0,
        "failures": 0,
        "last_failure": None,
    }
    sup.stop()
    assert h.world.lifecycle[4:] == [("stop", role) for role in reversed(ROLES)]
    assert all(not lease.valid for leases in h.world.leases.values() for lease in leases)
    with pytest.raises(Unavailable):
        sup.ref("meter")


@pytest.mark.parametrize(
    ("strategy", "failed", "restarted"),
    [
        ("one_for_one", "meter", ["meter"]),
        ("one_for_all", "meter", list(ROLES)),
        ("rest_for_one", "meter", ["meter", "reservation", "session"]),
        ("rest_for_one", "hardware", list(ROLES)),
    ],
)
def test_strategies_restart_the_right_children(
    h: Harness, strategy: Strategy, failed: str, restarted: list[str]
) -> None:
    sup = h.supervisor(strategy=strategy)
    sup.start()
    h.world.lifecycle.clear()
    crash(sup, failed)
    h.events.wait("restarted", restarted[-1])
    assert [e.role for e in h.events.of("crashed")] == [failed]
    assert sorted(e.role for e in h.events.of("restarted")) == sorted(restarted)
    assert generations(sup) == {role: 2 if role in restarted else 1 for role in ROLES}
    stopped = [role for kind, role in h.world.lifecycle if kind == "stop"]
    assert stopped == [role for role in reversed(restarted) if role != failed]
    started = [role for kind, role in h.world.lifecycle if kind == "start"]
    assert started == restarted  # in order
    assert sup.describe()["restarts"] == len(restarted)
    assert sup.describe()["actors"][ROLES.index(failed)]["last_failure"] == "RuntimeError: told to crash"


@pytest.mark.parametrize(
    ("restart", "death", "restarted"),
    [
        ("permanent", Crash(), True),
        ("permanent", Quit(), True),
        ("transient", Crash(), True),
        ("transient", Quit(), False),
        ("temporary", Crash(), False),
    ],
)
def test_restart_types(h: Harness, restart: RestartType, death: object, restarted: bool) -> None:
    sup = h.supervisor([worker_spec(h.world, "meter", restart), worker_spec(h.world, "session")])
    sup.start()
    old = sup.ref("meter")
    old.tell(death)
    if restarted:
        h.events.wait("restarted", "meter")
        assert sup.ref("meter") is not old
    else:
        assert sup.wait_for(lambda: sup.describe()["actors"][0]["state"] == "stopped", WAIT_S)
        sup.poll()
        assert not h.events.of("restarted")
        with pytest.raises(Unavailable):
            sup.wait_ref("meter", h.clock.monotonic() + 1.0)
    assert not h.world.leases["meter"][0].valid
    assert sup.ref("session") is not None  # a sibling is untouched either way


# --- intensity and giving up -------------------------------------------------------------


def crash_and_restart(h: Harness, sup: Supervisor, role: str, nth: int) -> None:
    """Crash `role` and let it come back (moving the fake clock past any backoff)."""
    crash(sup, role)
    h.events.wait("crashed", role, nth)
    sup.poll()
    due = sup.pending_restarts().get(role)
    if due is not None:
        h.clock.advance(max(due - h.clock.monotonic(), 0.0))
        sup.poll()
    h.events.wait("restarted", role, nth)


def test_too_many_failures_give_up_and_start_brings_it_back(h: Harness) -> None:
    limits = SupervisionSettings(intensity=2, period_s=30.0, backoff_min_s=0.05, backoff_max_s=5.0)
    sup = h.supervisor(strategy="rest_for_one", limits=limits)
    sup.start()
    crash_and_restart(h, sup, "meter", 1)
    crash_and_restart(h, sup, "meter", 2)
    crash(sup, "meter")
    gave_up = h.events.wait("gave_up")
    kinds = [e.event for e in h.events.items]
    assert kinds[-2:] == ["escalated", "gave_up"]
    assert gave_up.role == "meter"
    assert h.gave_up == ["evse/1"]
    assert sup.describe()["state"] == "gave_up"
    assert all(a["state"] == "stopped" for a in sup.describe()["actors"])
    assert all(not lease.valid for leases in h.world.leases.values() for lease in leases)
    with pytest.raises(Unavailable):
        sup.wait_ref("hardware", h.clock.monotonic() + 10.0)
    sup.start()
    assert sup.describe()["state"] == "running"
    assert sup.ask("meter", Record("back"), WAIT_S) == 4


def test_intensity_counts_failures_not_the_siblings_they_restart(h: Harness) -> None:
    limits = SupervisionSettings(intensity=1, period_s=30.0)
    sup = h.supervisor(strategy="one_for_all", limits=limits)
    sup.start()
    crash_and_restart(h, sup, "hardware", 1)  # four restarts, one failure
    described = sup.describe()
    assert described["state"] == "running"
    assert (described["restarts"], described["failures"]) == (4, 1)
    assert [(a["restarts"], a["failures"]) for a in described["actors"]] == [(1, 1), (1, 0), (1, 0), (1, 0)]
    h.clock.advance(limits.period_s)  # the first failure leaves the window
    crash_and_restart(h, sup, "session", 1)
    assert sup.describe()["state"] == "running"
    crash(sup, "session")
    h.events.wait("gave_up")


def test_a_restart_on_purpose_restarts_all_in_order_and_counts_no_failure(h: Harness) -> None:
    limits = SupervisionSettings(intensity=1, period_s=30.0)
    sup = h.supervisor(strategy="one_for_one", limits=limits)
    sup.start()
    sup.terminate_child("reservation")  # stopped for good: it stays stopped
    h.world.lifecycle.clear()
    for _ in range(3):  # past the intensity, if it counted
        sup.restart_all("requested")
    described = sup.describe()
    assert described["state"] == "running" and described["failures"] == 0
    assert generations(sup) == {"hardware": 4, "meter": 4, "reservation": 1, "session": 4}
    again = ["hardware", "meter", "session"]
    assert h.world.lifecycle[:6] == [("stop", r) for r in reversed(again)] + [("start", r) for r in again]
    events = h.events.of("restarted")
    assert len(events) == 9 and {e.reason for e in events} == {"requested"}
    assert not h.events.of("crashed") and not h.gave_up
    assert all(not lease.valid for leases in h.world.leases.values() for lease in leases[:-1])
    assert sup.ask("session", Record("after"), WAIT_S) == 4
    sup.stop()
    with pytest.raises(Unavailable, match="stopped"):
        sup.restart_all("requested")


def test_restarts_back_off_and_the_backoff_resets_after_a_quiet_period(h: Harness) -> None:
    sup = h.supervisor()
    sup.start()
    crash(sup, "meter")
    h.events.wait("restarted", "meter")  # the first restart is immediate
    for nth, base_s in [(2, 0.05), (3, 0.1), (4, 0.2)]:
        crash(sup, "meter")
        h.events.wait("crashed", "meter", nth)
        sup.poll()
        delay_s = sup.pending_restarts()["meter"] - h.clock.monotonic()
        assert 0.8 * base_s <= delay_s <= 1.2 * base_s
        h.clock.advance(delay_s * 0.9)
        sup.poll()
        assert sup.describe()["actors"][1]["state"] == "restarting"
        assert sup.describe()["state"] == "restarting"
        h.clock.advance(delay_s * 0.1)
        sup.poll()
        h.events.wait("restarted", "meter", nth)
    h.clock.advance(LIMITS.period_s)
    crash(sup, "meter")
    h.events.wait("restarted", "meter", 5)  # immediate again


# --- failed starts, hangs and fencing ----------------------------------------------------


def test_a_failing_on_start_is_a_failure_and_is_retried(h: Harness) -> None:
    h.world.fail_starts["meter"] = 1
    sup = h.supervisor(strategy="rest_for_one")
    sup.start()
    crashed = h.events.wait("crashed", "meter")
    assert crashed.reason == "on_start failed" and crashed.generation == 1
    h.events.wait("restarted", "meter")
    h.events.wait("started", "session")
    assert generations(sup) == {"hardware": 1, "meter": 2, "reservation": 1, "session": 1}
    assert ("start", "reservation") in h.world.lifecycle
    assert not h.world.leases["meter"][0].valid


def test_a_hung_on_start_is_abandoned(h: Harness) -> None:
    limits = SupervisionSettings(ping_timeout_s=0.05)
    h.world.hang_start["meter"] = release = threading.Event()
    h.releases.append(release)
    sup = h.supervisor([worker_spec(h.world, "meter")], limits=limits)
    sup.start()
    hung = h.events.wait("hung", "meter")
    assert hung.generation == 1
    h.events.wait("restarted", "meter")
    assert sup.ask("meter", Record("after"), WAIT_S) == 2


def test_a_hung_actor_is_found_by_ping_fenced_and_replaced(h: Harness) -> None:
    sup = h.supervisor()
    sup.start()
    gate = h.gate()
    sup.ref("meter").tell(gate)
    assert gate.entered.wait(WAIT_S)
    assert list(sup.busy_since()) == ["meter"]
    h.clock.advance(LIMITS.ping_timeout_s * 0.9)
    sup.poll()
    assert sup.describe()["actors"][1]["state"] == "running"  # busy, not hung yet
    h.clock.advance(LIMITS.ping_timeout_s * 0.1)
    sup.poll()
    hung = h.events.wait("hung", "meter")
    assert hung.generation == 1
    h.events.wait("restarted", "meter")
    assert not h.world.leases["meter"][0].valid
    assert sup.ask("meter", Record("new"), WAIT_S) == 2
    gate.release.set()  # the old generation wakes up and tries to act
    assert gate.done.wait(WAIT_S)
    assert h.world.refusals == [("meter", 1)]
    assert h.world.journal == [("meter", 2, "new")]
    assert [e.role for e in h.events.of("restarted")] == ["meter"]


def test_a_hung_child_does_not_block_stop(h: Harness) -> None:
    specs = [worker_spec(h.world, "meter", shutdown_timeout_s=0.05), worker_spec(h.world, "session")]
    sup = h.supervisor(specs)
    sup.start()
    gate = h.gate()
    sup.ref("meter").tell(gate)
    assert gate.entered.wait(WAIT_S)
    sup.stop()
    assert h.world.lifecycle[-1] == ("stop", "session")
    assert not h.world.leases["meter"][0].valid
    gate.release.set()
    assert gate.done.wait(WAIT_S)
    assert h.world.refusals == [("meter", 1)]


class Plain(pykka.ThreadingActor):
    """An actor that knows nothing of supervision: its death is found by the pings."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise RuntimeError("told to crash")
        return True


def test_a_silent_death_is_found_at_the_ping_rounds(h: Harness) -> None:
    sup = h.supervisor([ChildSpec("plain", lambda lease: Plain.start())])
    sup.start()
    old = crash(sup, "plain")
    assert old.actor_stopped.wait(WAIT_S)
    h.clock.advance(LIMITS.ping_interval_s)
    sup.poll()  # seen dead once: a report could still be on its way
    assert sup.describe()["actors"][0]["state"] == "running"
    h.clock.advance(LIMITS.ping_interval_s)
    sup.poll()
    assert h.events.wait("crashed", "plain").reason == "stopped without a report"
    h.events.wait("restarted", "plain")
    assert sup.ref("plain") is not old


# --- stable addresses --------------------------------------------------------------------


def test_wait_ref_waits_through_a_restart_and_gives_up_at_its_deadline(h: Harness) -> None:
    sup = h.supervisor()
    sup.start()
    crash(sup, "meter")
    h.events.wait("restarted", "meter")
    crash(sup, "meter")  # the second failure in a row waits for its backoff
    h.events.wait("crashed", "meter", 2)
    sup.poll()
    found: list[pykka.ActorRef[Any]] = []
    waiter = threading.Thread(target=lambda: found.append(sup.wait_ref("meter", h.clock.monotonic() + 1.0)))
    waiter.start()
    h.clock.advance(0.1)
    sup.poll()
    waiter.join(WAIT_S)
    assert found == [sup.ref("meter")]
    assert generations(sup)["meter"] == 3

    crash(sup, "meter")
    h.events.wait("crashed", "meter", 3)
    sup.poll()
    failures: list[Exception] = []

    deadline_s = h.clock.monotonic() + 0.01

    def wait_past_deadline() -> None:
        try:
            sup.wait_ref("meter", deadline_s)
        except Unavailable as exc:
            failures.append(exc)

    waiter = threading.Thread(target=wait_past_deadline)
    waiter.start()
    h.clock.advance(0.01)
    waiter.join(WAIT_S)
    assert len(failures) == 1


def test_ask_retried_across_a_crash_runs_exactly_once(h: Harness) -> None:
    sup = h.supervisor()
    sup.start()
    old = sup.ref("meter")
    gate = h.gate()
    old.tell(gate)
    assert gate.entered.wait(WAIT_S)  # the gate is out of the inbox, so only what follows counts
    old.tell(Crash())
    answers: list[int] = []
    asker = threading.Thread(target=lambda: answers.append(sup.ask("meter", Record("once"), WAIT_S)))
    asker.start()
    inbox = cast("WatchedInbox", old.actor_inbox)
    with inbox.put_cond:  # Crash, then the ask, queued behind the gate
        assert inbox.put_cond.wait_for(lambda: inbox.qsize() == 2, WAIT_S)
    gate.release.set()
    asker.join(WAIT_S)
    assert answers == [2]
    assert [entry for entry in h.world.journal if entry[2] == "once"] == [("meter", 2, "once")]


def test_a_sibling_stopped_with_a_failed_child_runs_nothing_of_its_inbox(h: Harness) -> None:
    """rest_for_one: the meter dies while the session is busy, an ask queued behind. The session is
    stopped with it, out of the table at once though it finishes the message in hand: the ask
    it had not started goes to its next generation and runs there alone."""
    specs = [worker_spec(h.world, "meter"), worker_spec(h.world, "session", shutdown_timeout_s=WAIT_S)]
    sup = h.supervisor(specs, "rest_for_one")
    sup.start()
    old = sup.ref("session")
    gate = h.gate()
    old.tell(gate)
    assert gate.entered.wait(WAIT_S)
    answers: list[int] = []
    asker = threading.Thread(target=lambda: answers.append(sup.ask("session", Record("once"), WAIT_S)))
    asker.start()
    inbox = cast("WatchedInbox", old.actor_inbox)
    with inbox.put_cond:
        assert inbox.put_cond.wait_for(lambda: inbox.qsize() == 1, WAIT_S)
    crash(sup, "meter")
    assert sup.wait_for(lambda: sup.describe()["actors"][1]["state"] != "running", WAIT_S)
    gate.release.set()  # the old session ends its message in hand, then comes to the ask
    asker.join(WAIT_S)
    assert answers == [2]
    assert [entry for entry in h.world.journal if entry[2] == "once"] == [("session", 2, "once")]
    assert ("session", 1, "late") in h.world.journal  # the message in hand was done, not fenced


def test_ask_does_not_retry_a_dead_peer_error_from_inside_a_handler(h: Harness) -> None:
    sup = h.supervisor()
    sup.start()
    dead = Worker.start(Lease("other", 1), h.world)
    dead.stop()
    with pytest.raises(pykka.ActorDeadError):
        sup.ask("session", AskPeer(dead), WAIT_S)
    assert generations(sup)["session"] == 1


# --- nesting and operator control --------------------------------------------------------


def test_a_nested_supervisor_that_gives_up_is_a_failed_child_of_its_parent(h: Harness) -> None:
    inner: dict[str, list[Supervisor]] = {"evse/1": [], "evse/2": []}
    inner_limits = SupervisionSettings(intensity=0)

    def connector(name: str) -> ChildSpec:
        def build(lease: Lease, on_give_up: Callable[[str], None]) -> Supervisor:
            specs = [worker_spec(h.world, f"{name}:meter")]
            sup = Supervisor(name, specs, "rest_for_one", inner_limits, h.clock, h.events, on_give_up)
            inner[name].append(sup)
            return sup

        return supervisor_child(name, build, restart="permanent", shutdown_timeout_s=2.0)

    station = h.supervisor([connector("evse/1"), connector("evse/2")], name="station")
    station.start()
    assert [len(sups) for sups in inner.values()] == [1, 1]
    crash(inner["evse/1"][0], "evse/1:meter")
    h.events.wait("gave_up")
    crashed = h.events.wait("crashed", "evse/1")
    assert crashed.name == "station" and crashed.reason == "evse/1 gave up"
    h.events.wait("restarted", "evse/1")
    assert len(inner["evse/1"]) == 2
    assert inner["evse/1"][1].ask("evse/1:meter", Record("fresh"), WAIT_S) == 1  # a new supervisor
    assert [lease.valid for lease in h.world.leases["evse/1:meter"]] == [False, True]
    first = inner["evse/1"][0]
    assert first.wait_for(lambda: first.state == "stopped", WAIT_S)  # stopped with its old actor
    assert inner["evse/2"][0].describe()["actors"][0]["generation"] == 1


def test_operator_can_stop_and_restart_one_child(h: Harness) -> None:
    sup = h.supervisor()
    sup.start()
    sup.terminate_child("reservation")
    assert sup.describe()["actors"][2]["state"] == "stopped"
    with pytest.raises(Unavailable):
        sup.wait_ref("reservation", h.clock.monotonic() + 1.0)
    sup.restart_child("reservation")
    assert sup.ask("reservation", Record("again"), WAIT_S) == 2
