"""SimBoard: the board-support driver over the simulated hardware."""

from __future__ import annotations

from collections.abc import Callable

from drivers.base import Board, BoardCapabilities, BoardStatus, PilotSignal, Telemetry
from drivers.sim.hardware import SimHardware

AMBIENT_C = 25.0
HEATING_C_PER_A = 0.5  # the board warms this much per ampere on its most loaded phase
FAN_ON_ABOVE_C = 40.0
FAN_RPM = 2400.0
RCD_LEAKAGE_MA = 2.0  # residual current normally sensed
RCD_FAULT_MA = 35.0  # residual current sensed during an RCD fault


class SimBoard(Board):
    """A board driver whose every method raises DriverError while `board_comm` is active."""

    def __init__(self, hardware: SimHardware) -> None:
        self._hw = hardware

    def on_change(self, notify: Callable[[], None]) -> bool:
        self._hw.watch(notify)
        return True

    def capabilities(self) -> BoardCapabilities:
        self._hw.check_comm("board_comm")
        return self._hw.capabilities

    def status(self) -> BoardStatus:
        self._hw.check_comm("board_comm")
        snap = self._hw.snapshot()
        return BoardStatus(
            cp=snap.cp,
            plugged=snap.plugged,
            relais_on=snap.relais_on,
            three_phases=snap.three_phases,
            locked=snap.locked,
            currents_a=snap.currents_a,
            diode_fault="diode" in snap.faults,
            rcd_tripped="rcd" in snap.faults,
            relay_welded="relay_weld" in snap.faults,
            overcurrent_tripped="overcurrent" in snap.faults,
            plug_count=snap.plug_count,
        )

    def set_pilot(self, signal: PilotSignal) -> None:
        self._hw.check_comm("board_comm")
        self._hw.set_pilot(signal)

    def allow_power(self, allowed: bool) -> None:
        self._hw.check_comm("board_comm")
        self._hw.allow_power(allowed)

    def set_lock(self, locked: bool) -> bool:
        self._hw.check_comm("board_comm")
        return self._hw.set_lock(locked)

    def switch_phases(self, three_phases: bool) -> None:
        self._hw.check_comm("board_comm")
        self._hw.switch_phases(three_phases)

    def telemetry(self) -> Telemetry:
        self._hw.check_comm("board_comm")
        snap = self._hw.snapshot()
        temperature = AMBIENT_C + HEATING_C_PER_A * max(snap.currents_a)
        return Telemetry(
            temperature=temperature,
            fan_rpm=FAN_RPM if temperature > FAN_ON_ABOVE_C else 0.0,
            supply_voltage_12V=12.0,
            supply_voltage_minus_12V=-12.0,
            rcd_current=RCD_FAULT_MA if "rcd" in snap.faults else RCD_LEAKAGE_MA,
            relais_on=snap.relais_on,
        )
