"""A request on its way through the station, and the clients waiting for its reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supervisor.api.cache import Key
from supervisor.api.commands import Command
from supervisor.api.protocol import Request, RequestId


@dataclass(eq=False)
class Waiter:
    """One client waiting for a job's reply: where to send it and until when."""

    route: list[bytes]
    request_id: RequestId
    deadline: float
    answered: bool = False
    request: Request | None = None  # for the observer (metrics, the command log)
    started_s: float = 0.0


@dataclass(eq=False)
class Job:
    """A checked request; retries of the same key wait on it too (more waiters, a later deadline).

    `index` is the connector (0 for the station); `restarting` is set while the job waits
    for a new generation of the actor it goes to (its deadline is then answered `unavailable`).
    """

    request_id: RequestId
    command: Command
    args: dict[str, Any]
    index: int
    key: Key | None
    deadline: float
    waiters: list[Waiter] = field(default_factory=list)
    restarting: bool = False

    def join(self, waiter: Waiter) -> None:
        self.waiters.append(waiter)
        self.deadline = max(self.deadline, waiter.deadline)

    def abandoned(self, now: float) -> bool:
        """Every client's deadline has passed (each is answered then): nobody waits for it any more."""
        return self.deadline <= now
