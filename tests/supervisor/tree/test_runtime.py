"""The shared runtime: many supervisors on a few threads, found hangs and deaths without pings."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pykka
import pytest

from supervisor.tree import (
    ChildSpec,
    Lease,
    Runtime,
    SupervisedActor,
    SupervisionEvent,
    SupervisionSettings,
    Supervisor,
)

WAIT_S = 5.0
FAST = SupervisionSettings(ping_interval_s=0.05, ping_timeout_s=0.2, backoff_min_s=0.01, backoff_max_s=0.05)
PATIENT = dataclasses.replace(FAST, ping_timeout_s=2.0)  # 80 actors on a loaded machine


@dataclass(frozen=True)
class Crash:
    pass


@dataclass(frozen=True)
class Hang:
    release: threading.Event


class Child(SupervisedActor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise RuntimeError("told to crash")
        if isinstance(message, Hang):
            message.release.wait(WAIT_S)
            return None
        return super().on_receive(message)


def spec(role: str) -> ChildSpec:
    return ChildSpec(role, lambda lease: Child.start(lease))


class Events:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[SupervisionEvent] = []

    def __call__(self, event: SupervisionEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait(self, name: str, role: str, kind: str) -> SupervisionEvent:
        def found() -> list[SupervisionEvent]:
            return [e for e in self.items if (e.name, e.role, e.event) == (name, role, kind)]

        with self._cond:
            assert self._cond.wait_for(found, WAIT_S), f"no {kind} of {name}/{role}: {self.items}"
            return found()[0]


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    yield Runtime(workers=2)
    pykka.ActorRegistry.stop_all(block=True, timeout=WAIT_S)


def supervision_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("supervision-")}


def test_many_supervisors_share_one_timer_and_a_few_workers(runtime: Runtime) -> None:
    before = supervision_threads()
    events = Events()
    sups = [
        Supervisor(
            f"evse/{n}", [spec("a"), spec("b")], "rest_for_one", PATIENT, on_event=events, runtime=runtime
        )
        for n in range(1, 41)
    ]
    for sup in sups:
        sup.start()
    assert len(supervision_threads() - before) <= 3  # whatever the threads were named before
    sups[7].ref("a").tell(Crash())
    events.wait("evse/8", "b", "restarted")  # rest_for_one, decided on a shared worker
    assert sups[7].describe()["restarts"] == 2
    assert all(sup.describe()["restarts"] == 0 for sup in sups if sup is not sups[7])
    for sup in sups:
        sup.stop()


def test_a_hung_actor_is_found_by_the_scan_without_being_asked(runtime: Runtime) -> None:
    events = Events()
    sup = Supervisor(
        "evse/1", [spec("meter"), spec("session")], "one_for_one", FAST, on_event=events, runtime=runtime
    )
    sup.start()
    release = threading.Event()
    old = sup.ref("meter")
    old.tell(Hang(release))
    hung = events.wait("evse/1", "meter", "hung")
    assert hung.generation == 1
    events.wait("evse/1", "meter", "restarted")
    assert sup.ask("meter", "anything", WAIT_S) is None  # the new generation answers
    assert sup.ref("meter") is not old
    assert [e.event for e in events.items if e.role == "session"] == ["started"]
    release.set()
    sup.stop()


class Plain(pykka.ThreadingActor):
    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise RuntimeError("told to crash")
        return True


def test_a_silent_death_is_found_by_the_scan(runtime: Runtime) -> None:
    events = Events()

    def start(lease: Lease) -> pykka.ActorRef[Any]:
        return Plain.start()

    sup = Supervisor("evse/1", [ChildSpec("plain", start)], limits=FAST, on_event=events, runtime=runtime)
    sup.start()
    sup.ref("plain").tell(Crash())
    assert events.wait("evse/1", "plain", "crashed").reason == "stopped without a report"
    events.wait("evse/1", "plain", "restarted")
    sup.stop()
