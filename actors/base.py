"""What every connector actor shares: its context, its lease, ping and chaos handling."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

import pykka

from actors.messages import ChaosHang, ChaosKill, Ping
from actors.ports import Lease, Peers
from actors.settings import ConnectorSettings
from actors.state import ConnectorState
from drivers.base import Board, Meter
from drivers.clock import Clock

log = logging.getLogger(__name__)

ASK_TIMEOUT_S = 2.0


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


class ConnectorActor(pykka.ThreadingActor):
    """Base of the four roles: dispatches messages by type to `handlers`."""

    role: ClassVar[str] = "actor"
    use_daemon_thread = True  # a hung actor never keeps the process alive

    def __init__(self, ctx: ConnectorContext, lease: Lease) -> None:
        super().__init__()
        self.ctx = ctx
        self.lease = lease
        self.handlers: dict[type, Callable[[Any], Any]] = {
            Ping: self._ping,
            ChaosKill: self._chaos_kill,
            ChaosHang: self._chaos_hang,
        }

    def on_receive(self, message: Any) -> Any:
        handler = self.handlers.get(type(message))
        if handler is None:
            raise TypeError(f"{self.role} actor does not handle {type(message).__name__}")
        return handler(message)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        reason = f"{exception_type.__name__ if exception_type else 'failure'}: {exception_value}"
        log.warning(
            "evse %d %s generation %d crashed: %s",
            self.ctx.settings.index,
            self.role,
            self.lease.generation,
            reason,
        )
        self.make_safe()
        self.lease.report_failure(reason)

    def on_stop(self) -> None:
        self.make_safe()
        self.lease.report_exit()

    def make_safe(self) -> None:
        """Leave the hardware safe when this actor stops or dies (only the hardware actor acts)."""

    def _ping(self, message: Ping) -> bool:
        return True

    def _chaos_kill(self, message: ChaosKill) -> None:
        raise ChaosFailure(f"chaos_kill of the {self.role} actor")

    def _chaos_hang(self, message: ChaosHang) -> None:
        threading.Event().wait(message.seconds)
