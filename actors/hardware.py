"""HardwareActor: owns the board driver; polls it and tells the session actor what changed."""

from __future__ import annotations

import logging
import threading

from actors.base import ConnectorActor, ConnectorContext
from actors.messages import ApplyOutput, BoardReport, ReadStatus, SetLock, SwitchPhases, Tick
from actors.model import HardwareOutput
from drivers.base import Board, BoardStatus, CPState, DriverError, PilotSignal
from supervisor.tree import Lease

log = logging.getLogger(__name__)

PHASE_SWITCH_WAIT_S = 3.0
_PHASE_SWITCH_POLL_S = 0.02


class HardwareActor(ConnectorActor):
    role = "hardware"
    handlers = {
        **ConnectorActor.handlers,
        Tick: "_tick",
        ApplyOutput: "_apply",
        ReadStatus: "_read_status",
        SetLock: "_set_lock",
        SwitchPhases: "_switch_phases",
    }

    def __init__(self, ctx: ConnectorContext, lease: Lease) -> None:
        super().__init__(ctx, lease)
        self._last_status: BoardStatus | None = None
        self._next_telemetry_at = 0.0

    @property
    def board(self) -> Board:
        self.lease.check()
        return self.ctx.board

    def on_start(self) -> None:
        # A new generation starts with the power off; the session actor re-applies what it wants.
        self.make_safe()
        self.ctx.state.set_applied_output(self.lease, None)

    def make_safe(self) -> None:
        if not self.lease.valid:
            return
        try:
            self.ctx.board.allow_power(False)
            self.ctx.board.set_pilot(PilotSignal.x1())
        except DriverError as exc:
            log.error("evse %d: could not switch the power off: %s", self.ctx.settings.index, exc)

    def _tick(self, message: Tick) -> None:
        status = self.board.status()
        if status != self._last_status:
            self._last_status = status
            self.ctx.peers.tell("session", BoardReport(status))
        now = self.ctx.clock.monotonic()
        if now >= self._next_telemetry_at:
            self._next_telemetry_at = now + self.ctx.settings.telemetry_interval_s
            self.ctx.state.publish(self.lease, "telemetry", self.board.telemetry().to_payload())

    def _read_status(self, message: ReadStatus) -> BoardStatus:
        status = self.board.status()
        self._last_status = status
        return status

    def _apply(self, message: ApplyOutput) -> bool:
        """Drive pilot, relays and lock; power goes off before anything else. True if the lock obeyed."""
        output = message.output
        board = self.board
        previous = self.ctx.state.applied_output
        if not output.power_allowed:
            board.allow_power(False)
        board.set_pilot(output.pilot)
        if output.power_allowed:
            board.allow_power(True)
        lock_ok = True
        if self.ctx.settings.lock and (previous is None or previous.locked != output.locked):
            lock_ok = board.set_lock(output.locked)
        self.ctx.state.set_applied_output(self.lease, output)
        return lock_ok

    def _set_lock(self, message: SetLock) -> bool:
        if not self.ctx.settings.lock:
            return False
        return self.board.set_lock(message.locked)

    def _switch_phases(self, message: SwitchPhases) -> str:
        """X1, wait for the car to stop drawing, relays open, switch, then back as before."""
        board = self.board
        restore = self.ctx.state.applied_output
        board.set_pilot(PilotSignal.x1())
        if not self._car_stopped_drawing(board):
            self._restore(restore)
            return "Error_Hardware"
        board.allow_power(False)
        try:
            board.switch_phases(message.three_phases)
        except DriverError as exc:
            log.warning("evse %d: phase switch failed: %s", self.ctx.settings.index, exc)
            self._restore(restore)
            return "Error_Hardware"
        self._restore(restore)
        return "Success"

    def _car_stopped_drawing(self, board: Board) -> bool:
        waited = 0.0
        while waited <= PHASE_SWITCH_WAIT_S:
            status = board.status()
            if status.cp not in (CPState.C, CPState.D) and max(status.currents_a) < 1.0:
                return True
            threading.Event().wait(_PHASE_SWITCH_POLL_S)
            waited += _PHASE_SWITCH_POLL_S
        return False

    def _restore(self, output: HardwareOutput | None) -> None:
        if output is not None:
            self._apply(ApplyOutput(output))
