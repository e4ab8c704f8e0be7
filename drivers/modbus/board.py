"""ModbusBoard: a charge controller that switches its own relays from a current limit.

PWM at I amperes is the limit I; X1 (and F, which such a controller cannot drive) is the
limit 0, or enable off. The relays are what the controller reports. The limit is written
again at least every `LIMIT_REFRESH_S` (with the polls), so that the controller's own Modbus
timeout drops it to 0 when the station stops talking to it.
"""

from __future__ import annotations

import math

from drivers.base import Board, BoardCapabilities, BoardStatus, CPState, DriverError, PilotSignal, Telemetry
from drivers.clock import Clock
from drivers.modbus.link import ModbusLink
from drivers.modbus.poller import Poller
from drivers.modbus.settings import LIMIT_REFRESH_S, ModbusDevice

_DRAWING = (CPState.C, CPState.D)


def board_capabilities(device: ModbusDevice, max_current_a: float, phases: int) -> BoardCapabilities:
    """What a controller of this model can do: no lock, no phase switching, no state F."""
    return BoardCapabilities(
        max_current_a=max_current_a,
        phases=phases,
        phase_switching=False,
        lock=False,
        state_f=False,
        relay_feedback="relay_state" in device.model.board,
        rcd_reporting=False,
        telemetry=False,
    )


class ModbusBoard(Board):
    def __init__(
        self, device: ModbusDevice, link: ModbusLink, capabilities: BoardCapabilities, clock: Clock
    ) -> None:
        self._poller = Poller(device, link)
        self._caps = capabilities
        self._clock = clock
        self._poll_interval_s = device.poll_interval_s
        self._status: BoardStatus | None = None
        self._polled_at_s = -math.inf
        self._pilot = PilotSignal.x1()
        self._power_allowed = False
        self._written_a: float | None = None  # None: unknown, write at the next chance
        self._written_at_s = -math.inf

    def capabilities(self) -> BoardCapabilities:
        return self._caps

    def status(self) -> BoardStatus:
        """The last poll, or a new one (with the limit refresh) once `poll_interval_s` has passed."""
        now_s = self._clock.monotonic()
        if self._status is not None and now_s - self._polled_at_s < self._poll_interval_s:
            return self._status
        if now_s - self._written_at_s >= LIMIT_REFRESH_S:
            self._write_limit(self._limit_a())
        self._poller.poll()
        self._status = self._read_status()
        self._polled_at_s = (
            self._clock.monotonic()
        )  # from the poll's end: a slow bus is not polled back to back
        return self._status

    def set_pilot(self, signal: PilotSignal) -> None:
        self._pilot = signal
        self._apply()

    def allow_power(self, allowed: bool) -> None:
        self._power_allowed = allowed
        self._apply()

    def set_lock(self, locked: bool) -> bool:
        return False  # a controller without a lock: the capability is absent

    def switch_phases(self, three_phases: bool) -> None:
        raise DriverError(f"{self._poller.name} cannot switch phases")

    def telemetry(self) -> Telemetry:
        raise DriverError(f"{self._poller.name} has no telemetry")

    def limit_a(self) -> float:
        """The limit the controller was last told (for tests and probe)."""
        return self._written_a or 0.0

    def _limit_a(self) -> float:
        if self._pilot.mode != "PWM" or not self._power_allowed:
            return 0.0
        return min(self._pilot.current_a(), self._caps.max_current_a)

    def _apply(self) -> None:
        limit_a = self._limit_a()
        if limit_a != self._written_a:
            self._write_limit(limit_a)

    def _write_limit(self, limit_a: float) -> None:
        """Limit first when it rises, enable first when it stops; forgotten on failure."""
        self._written_a = None
        enable = self._poller.has("enable")
        if enable and limit_a == 0.0:
            self._poller.write("enable", 0)
        self._poller.write("current_limit_a", limit_a)
        if enable and limit_a > 0.0:
            self._poller.write("enable", 1)
        self._written_a = limit_a
        self._written_at_s = self._clock.monotonic()
        self._status = None  # the next status reads what the controller made of it

    def _read_status(self) -> BoardStatus:
        p = self._poller
        code = p.meaning("cp_state")
        if code is None:  # the poll refuses a code the model does not know: never reached
            raise DriverError(f"{p.name}: no control pilot state")
        cp = CPState(code)
        relay = p.meaning("relay_state")
        if relay is None:  # no relay feedback: closed when the car draws and the limit allows it
            relais_on, three_phases = cp in _DRAWING and self.limit_a() > 0.0, self._caps.phases == 3
        else:
            relais_on, three_phases = relay != "off", relay == "three_phases"
        currents = p.numbers("currents_a", (0.0, 0.0, 0.0))
        return BoardStatus(
            cp=cp,
            plugged=cp in (CPState.B, CPState.C, CPState.D),
            relais_on=relais_on,
            three_phases=three_phases,
            locked=False,
            currents_a=(currents[0], currents[1], currents[2]),
        )
