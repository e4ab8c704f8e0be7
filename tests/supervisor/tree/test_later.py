"""Replies that come later: given by a later tell, failed when the owner stops, dies or is fenced."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pykka
import pytest

from supervisor.tree import Abandoned, Later, Laters, Lease, Ping, answer

WAIT_S = 5.0


@dataclass(frozen=True)
class Slow:
    """Answer later, when `Done` comes."""


@dataclass(frozen=True)
class Done:
    value: Any


@dataclass(frozen=True)
class Crash:
    pass


class Waiter(pykka.ThreadingActor):
    """Owes a reply for every `Slow` until a `Done` tell gives it; fails them when it ends."""

    use_daemon_thread = True

    def __init__(self, lease: Lease) -> None:
        super().__init__()
        self.laters = Laters(lease)
        self.waiting: list[Later] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Slow):
            self.waiting.append(self.laters.owe())
            return self.waiting[-1]
        if isinstance(message, Done):
            given = sum(later.resolve(message.value) for later in self.waiting)
            self.waiting = []
            return given
        if isinstance(message, Crash):
            raise RuntimeError("crash")
        if isinstance(message, Ping):
            return bool(self.waiting)
        return None

    def on_stop(self) -> None:
        self.laters.fail_all("stopped")

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.laters.fail_all("crashed")


def start() -> tuple[pykka.ActorRef[Any], Lease]:
    lease = Lease("waiter", 1)
    return Waiter.start(lease), lease


def test_a_later_tell_gives_the_reply_and_the_actor_stays_free() -> None:
    ref, _ = start()
    first = ref.ask(Slow())
    second = ref.ask(Slow())
    assert isinstance(first, Later) and not first.done
    assert ref.ask(Ping(), timeout=WAIT_S) is True  # answers others while it owes two replies
    ref.tell(Done("Success"))
    assert answer(first, WAIT_S) == "Success" and answer(second, WAIT_S) == "Success"
    assert ref.ask(Ping(), timeout=WAIT_S) is False  # nothing owed any more


def test_a_plain_reply_is_its_own_answer() -> None:
    assert answer("Success", 0.0) == "Success"


@pytest.mark.parametrize(("end", "reason"), [(Crash(), "crashed"), (None, "stopped")])
def test_owed_replies_fail_when_the_owner_dies_or_stops(end: object, reason: str) -> None:
    ref, _ = start()
    later = ref.ask(Slow())
    if end is None:
        ref.stop()
    else:
        ref.tell(end)
    with pytest.raises(Abandoned, match=reason):
        answer(later, WAIT_S)


def test_a_caller_stops_waiting_once_the_owner_is_fenced() -> None:
    ref, lease = start()
    later = ref.ask(Slow())
    threading.Timer(0.1, lease.revoke).start()
    with pytest.raises(Abandoned, match="waiter generation 1 was fenced"):
        answer(later, WAIT_S)
    assert ref.ask(Done("late"), timeout=WAIT_S) == 0  # settled already: the late value is dropped


def test_an_unanswered_later_times_out_like_an_ask() -> None:
    ref, _ = start()
    with pytest.raises(pykka.Timeout, match=r"waiter did not answer within 0\.1 s"):
        answer(ref.ask(Slow()), 0.1)


def test_the_first_settlement_wins() -> None:
    later = Later(Lease("waiter", 1))
    assert later.resolve(1) is True
    assert later.fail(RuntimeError("late")) is False and later.resolve(2) is False
    assert later.get(0.0) == 1
