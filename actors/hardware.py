"""HardwareActor: owns the board driver; reads it and tells the session actor what changed.

A board that tells its changes is read on them; one that also reports by itself (the
plant's) sends its status and telemetry every telemetry interval, and is read only when a
report is a whole interval late (a board or link that went silent fails the actor as a
failed read does). Any other board is polled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from actors.base import ConnectorActor, ConnectorContext
from actors.messages import (
    ApplyOutput,
    BoardReport,
    PhasesSwitched,
    ReadStatus,
    Reported,
    SetLock,
    SwitchPhases,
    Tick,
)
from actors.model import HardwareOutput
from drivers.base import Board, BoardStatus, CPState, DriverError, PilotSignal
from supervisor.tree import Lease

log = logging.getLogger(__name__)

PHASE_SWITCH_WAIT_S = 3.0  # how long the car may take to stop drawing
POLL_S = 0.05  # a board that cannot tell its changes is read this often, and any board mid-switch
_STOPPED_BELOW_A = 1.0


@dataclass
class _PhaseSwitch:
    """A phase switch in flight: its mode, what to drive once it ended, when the car must have stopped."""

    three_phases: bool
    restore: HardwareOutput | None
    deadline_s: float


class HardwareActor(ConnectorActor):
    role = "hardware"
    handlers = {
        **ConnectorActor.handlers,
        Tick: "_tick",
        Reported: "_reported",
        ApplyOutput: "_apply",
        ReadStatus: "_read_status",
        SetLock: "_set_lock",
        SwitchPhases: "_switch_phases",
    }

    def __init__(self, ctx: ConnectorContext, lease: Lease) -> None:
        super().__init__(ctx, lease)
        self._last_status: BoardStatus | None = None
        self._next_telemetry_at = 0.0
        self._switch: _PhaseSwitch | None = None
        self._told = False  # the board tells its changes (a Tick), so it is read on them
        self._reports = False  # the board sends its status and telemetry by itself (Reported)

    @property
    def board(self) -> Board:
        self.lease.check()
        return self.ctx.board

    def on_start(self) -> None:
        # A new generation starts with the power off; the session actor re-applies what it wants.
        self.make_safe()
        self.ctx.state.set_applied_output(self.lease, None)
        self._told = self.ctx.board.on_change(partial(self.ctx.peers.tell, "hardware", Tick()))
        interval_s = self.ctx.settings.telemetry_interval_s
        self._reports = self._told and self.ctx.board.on_report(
            interval_s, partial(self.ctx.peers.tell, "hardware", Reported())
        )

    def next_tick_s(self) -> float:
        """The next telemetry, or sooner while the board must be read (polled, or mid-switch); with
        reports, once the next one is a whole interval late."""
        if self._switch is None and self._reports:
            return self._next_telemetry_at + self.ctx.settings.telemetry_interval_s
        if self._switch is None and self._told:
            return self._next_telemetry_at
        return min(self._next_telemetry_at, self.ctx.clock.monotonic() + POLL_S)

    def make_safe(self) -> None:
        if not self.lease.valid:
            return
        try:
            self.ctx.board.allow_power(False)
            self.ctx.board.set_pilot(PilotSignal.x1())
        except DriverError as exc:
            log.error("evse %d: could not switch the power off: %s", self.ctx.settings.index, exc)

    def _tick(self, message: Tick) -> None:
        self._take(self.board.status())
        now = self.ctx.clock.monotonic()
        if now >= self._next_telemetry_at:
            self._next_telemetry_at = now + self.ctx.settings.telemetry_interval_s
            if self.ctx.settings.telemetry:
                self.ctx.state.publish(self.lease, "telemetry", self.board.telemetry().to_payload())

    def _reported(self, message: Reported) -> None:
        """The board's own report: its status taken as a read one, its telemetry published."""
        status, telemetry = self.board.reported()
        self._take(status)
        self._next_telemetry_at = self.ctx.clock.monotonic() + self.ctx.settings.telemetry_interval_s
        if self.ctx.settings.telemetry:
            self.ctx.state.publish(self.lease, "telemetry", telemetry.to_payload())

    def _take(self, status: BoardStatus) -> None:
        if self._switch is not None:
            self._continue_switch(self._switch, status)  # a status mid-switch is not reported
        else:
            self._report(status)

    def _read_status(self, message: ReadStatus) -> BoardStatus:
        status = self.board.status()
        self._last_status = status
        return status

    def _apply(self, message: ApplyOutput) -> bool:
        """Drive pilot, relays and lock; power goes off before anything else. True if the lock obeyed.

        During a phase switch the output waits for its end, but power off and F are driven now.
        """
        output = message.output
        board = self.board
        previous = self.ctx.state.applied_output
        if not output.power_allowed:
            board.allow_power(False)
        if self._switch is not None:
            self._switch.restore = output
            if output.pilot.mode == "F":
                board.set_pilot(output.pilot)
        else:
            board.set_pilot(output.pilot)
            if output.power_allowed:
                board.allow_power(True)
        lock_ok = True
        if self.ctx.settings.lock and (previous is None or previous.locked != output.locked):
            lock_ok = board.set_lock(output.locked)
        self.ctx.state.set_applied_output(self.lease, output)
        if self._switch is None and self._told:
            self._report(board.status())  # what the car made of it: the board tells only its own news
        return lock_ok

    def _report(self, status: BoardStatus) -> None:
        if status != self._last_status:
            self._last_status = status
            self.ctx.peers.tell("session", BoardReport(status))

    def _set_lock(self, message: SetLock) -> bool:
        if not self.ctx.settings.lock:
            return False
        return self.board.set_lock(message.locked)

    def _switch_phases(self, message: SwitchPhases) -> bool:
        """Begin a switch: X1 now; the ticks wait for the car to stop drawing (a switch in flight
        takes the new mode). `PhasesSwitched` tells the session when it ended."""
        if self._switch is not None:
            self._switch.three_phases = message.three_phases
            return True
        self.board.set_pilot(PilotSignal.x1())
        deadline_s = self.ctx.clock.monotonic() + PHASE_SWITCH_WAIT_S
        self._switch = _PhaseSwitch(message.three_phases, self.ctx.state.applied_output, deadline_s)
        return True

    def _continue_switch(self, switch: _PhaseSwitch, status: BoardStatus) -> None:
        """Once the car stopped drawing: relays open, switch, then back as before; at the deadline,
        back as before (Error_Hardware)."""
        stopped = status.cp not in (CPState.C, CPState.D) and max(status.currents_a) < _STOPPED_BELOW_A
        if not stopped and self.ctx.clock.monotonic() < switch.deadline_s:
            return
        self._switch = None
        switched = stopped and self._switch_now(switch.three_phases)
        self._restore(switch.restore)
        result = "Success" if switched else "Error_Hardware"
        self.ctx.peers.tell(
            "session", PhasesSwitched(result, switch.three_phases if switched else status.three_phases)
        )

    def _switch_now(self, three_phases: bool) -> bool:
        board = self.board
        try:
            board.allow_power(False)
            board.switch_phases(three_phases)
        except DriverError as exc:
            log.warning("evse %d: phase switch failed: %s", self.ctx.settings.index, exc)
            return False
        return True

    def _restore(self, output: HardwareOutput | None) -> None:
        if output is not None:
            self._apply(ApplyOutput(output))
