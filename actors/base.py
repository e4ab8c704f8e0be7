"""What every connector actor shares: its context, message dispatch, chaos handling."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from actors.connector_state import ConnectorState
from actors.messages import ChaosHang, ChaosKill
from actors.ports import Budget, NoTimer, Peers, Timer
from actors.settings import ConnectorSettings
from drivers.base import Board, DeviceLost, DriverError, Meter
from drivers.clock import Clock
from supervisor.tree import FailureKind, Lease, SupervisedActor

ASK_TIMEOUT_S = 2.0
_NO_TIMER: Timer = NoTimer()  # whoever built the actors ticks them


class ChaosFailure(Exception):
    """Raised by an actor told to fail (chaos_kill)."""


@dataclass(frozen=True)
class ConnectorContext:
    """Everything a connector's actors share; it outlives every actor generation."""

    settings: ConnectorSettings
    board: Board
    meter: Meter
    clock: Clock
    state: ConnectorState
    peers: Peers
    budget: Budget | None = None  # the station's grid budget, when it has a limit
    timer: Timer = _NO_TIMER


class ConnectorActor(SupervisedActor):
    """Base of the four roles: dispatches each message by its type to the method `handlers` names.

    After every message (the supervisor's handshake after `on_start` included) the actor
    arms its next `Tick` from `next_tick_s()`: the station's one timer sends it then.

        The table holds method names, not bound methods: a bound method kept by its own actor
        would make every dead generation a reference cycle that only the cyclic collector frees.
    """

    role: ClassVar[str] = "actor"
    handlers: ClassVar[dict[type, str]] = {ChaosKill: "_chaos_kill", ChaosHang: "_chaos_hang"}

    def __init__(self, ctx: ConnectorContext, lease: Lease) -> None:
        super().__init__(lease)
        self.ctx = ctx

    def on_receive(self, message: Any) -> Any:
        name = self.handlers.get(type(message))
        try:
            if name is None:
                return super().on_receive(message)
            return getattr(self, name)(message)
        finally:
            self.ctx.timer.arm(self.role, self.next_tick_s())

    def next_tick_s(self) -> float | None:
        """When this actor next needs a `Tick` (ctx.clock.monotonic()); None: not until told."""
        return None

    def failure_kind(self, exception: BaseException | None) -> FailureKind:
        """A device away for less than `device_loss_s` never costs the connector; one lost longer does."""
        if isinstance(exception, DeviceLost):
            return "fatal"
        return "uncounted" if isinstance(exception, DriverError) else "counted"

    def _chaos_kill(self, message: ChaosKill) -> None:
        raise ChaosFailure(f"chaos_kill of the evse {self.ctx.settings.index} {self.role} actor")

    def _chaos_hang(self, message: ChaosHang) -> None:
        threading.Event().wait(message.seconds)
