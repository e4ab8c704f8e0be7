"""The actor side of supervision: answer pings, leave the hardware safe, report the death.

A supervisor learns of an actor's death from its lease (`report_failure`, `report_exit`)
and of a hang from the lease's `busy_since_s`: every message is handled between
`lease.enter()` and `lease.leave()`, so a handler that runs too long shows. A `Call` (a
tell with a completion callback) is unwrapped here and runs through the same dispatch, unless
the generation was withdrawn meanwhile (its supervisor replaced it): then it is refused. A new
generation answers a `Ping` once its `on_start` is done. pykka calls `on_failure` when a told
message's handler raised, and `on_stop` on a normal stop; both make the actor's
hardware safe first, then report.
"""

from __future__ import annotations

import logging
import queue
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pykka

from supervisor.tree.calls import Call
from supervisor.tree.lease import FailureKind, Lease

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ping:
    """Are you alive? Answered with True by every supervised actor."""


class SupervisedActor(pykka.ThreadingActor):
    """Base class of supervised actors; runs on a daemon thread so a hang never keeps a process alive."""

    use_daemon_thread = True

    def __init__(self, lease: Lease) -> None:
        super().__init__()
        self.lease = lease

    @staticmethod
    def _create_actor_inbox() -> Any:
        # pykka's default inbox is a queue.Queue (a Condition in Python); the C SimpleQueue
        # has the put, get and empty pykka uses, at a fraction of the cost per message.
        return queue.SimpleQueue()

    def _handle_receive(self, message: Any) -> Any:
        # pykka (4.x) hands every message, proxy calls and stops included, to this method.
        self.lease.enter()
        try:
            if type(message) is Call:
                if self.lease.withdrawn:
                    message.refuse()
                    return None
                return message.run(super()._handle_receive)
            return super()._handle_receive(message)
        finally:
            self.lease.leave()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return True
        return super().on_receive(message)

    def make_safe(self) -> None:
        """Leave the hardware safe when this actor stops or dies; only hardware owners act."""

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        reason = _reason(exception_type, exception_value)
        log.warning("%s generation %d crashed: %s", self.lease.role, self.lease.generation, reason)
        self.make_safe()
        self.lease.report_failure(reason, self.failure_kind(exception_value))

    def failure_kind(self, exception: BaseException | None) -> FailureKind:
        """How the death by `exception` weighs on the restart intensity (see `FailureKind`)."""
        return "counted"

    def on_stop(self) -> None:
        self.make_safe()
        self.lease.report_exit()


def _reason(exception_type: type[BaseException] | None, exception_value: BaseException | None) -> str:
    name = exception_type.__name__ if exception_type is not None else "failure"
    return f"{name}: {exception_value}" if exception_value is not None else name
