"""The actor side of supervision: a lease that reports back, the ping, and the actor base class.

This module depends only on pykka and actors.ports, so actors can derive from
`SupervisedActor` without knowing the supervisor.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

import pykka

from actors.messages import Ping
from actors.ports import Lease

__all__ = ["ChildLease", "Ping", "SupervisedActor"]


class ChildLease(Lease):
    """A generation's lease that also carries the way back to its supervisor.

    Reports never block: the supervisor queues them and acts on its own thread.
    """

    def __init__(
        self,
        role: str,
        generation: int,
        on_failure: Callable[[str], None],
        on_exit: Callable[[], None],
    ) -> None:
        super().__init__(role, generation)
        self._on_failure = on_failure
        self._on_exit = on_exit

    def report_failure(self, reason: str) -> None:
        """The generation died abnormally (or, for a nested supervisor, gave up)."""
        self._on_failure(reason)

    def report_exit(self) -> None:
        """The generation stopped normally."""
        self._on_exit()


class SupervisedActor(pykka.ThreadingActor):
    """Base class of supervised actors: answers `Ping`, reports its death, runs on a daemon thread.

    Subclasses that override `on_receive` pass unknown messages to `super().on_receive`;
    those that override `on_failure` or `on_stop` call the super method last, after the
    hardware is safe (the supervisor revokes the lease once it hears of the death).
    """

    use_daemon_thread = True

    def __init__(self, lease: Lease) -> None:
        super().__init__()
        self.lease = lease

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return True
        return super().on_receive(message)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(self.lease, ChildLease):
            self.lease.report_failure(_reason(exception_type, exception_value))

    def on_stop(self) -> None:
        if isinstance(self.lease, ChildLease):
            self.lease.report_exit()


def _reason(exception_type: type[BaseException] | None, exception_value: BaseException | None) -> str:
    name = exception_type.__name__ if exception_type is not None else "failure"
    return f"{name}: {exception_value}" if exception_value is not None else name
