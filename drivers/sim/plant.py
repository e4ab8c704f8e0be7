"""SimPlant: one connector's simulated hardware (board, meter, car) and the controls that play the car."""

from __future__ import annotations

import pathlib
from typing import Any

from drivers.base import BoardCapabilities
from drivers.clock import Clock
from drivers.sim.board import SimBoard
from drivers.sim.car import SimCar
from drivers.sim.hardware import SimHardware
from drivers.sim.meter import SimMeter


class SimControls:
    """What the `sim_*` commands call; thread-safe; each returns False when it changes nothing."""

    def __init__(self, hardware: SimHardware) -> None:
        self._hw = hardware

    def plug_in(
        self,
        capacity_wh: float = 60000,
        soc: float = 0.2,
        target_soc: float = 0.8,
        max_current_a: float = 32,
        phases: int = 3,
        needs_ventilation: bool = False,
        stop_delay_s: float = 0.0,
    ) -> bool:
        """Plug a car in (CP B); ValueError for impossible car parameters.

        A car with `stop_delay_s` goes on drawing that long after the PWM is gone (a slow car).
        """
        car = SimCar(capacity_wh, soc, target_soc, max_current_a, phases, needs_ventilation, stop_delay_s)
        return self._hw.plug_in(car)

    def unplug(self) -> bool:
        return self._hw.unplug()

    def ev_pause(self) -> bool:
        """The car stops requesting power (CP B)."""
        return self._hw.set_paused(True)

    def ev_resume(self) -> bool:
        return self._hw.set_paused(False)

    def fault(self, kind: str) -> bool:
        """Raise a fault of `FAULT_KINDS`; ValueError for an unknown kind."""
        return self._hw.add_fault(kind)

    def clear_fault(self, kind: str | None = None) -> bool:
        """Clear one fault, or all with None; False when none of them was active."""
        return self._hw.clear_fault(kind)

    def state(self) -> dict[str, Any]:
        """The car and the hardware now, for status and debugging (plain types only)."""
        return self._hw.state()


class SimPlant:
    """One connector's simulated hardware: `board`, `meter` and the `controls` that play the car."""

    def __init__(
        self,
        capabilities: BoardCapabilities,
        clock: Clock,
        *,
        time_scale: float = 1.0,
        meter_id: str = "SIM-1",
        key_path: pathlib.Path | None = None,
        energy_wh: float = 0.0,
    ) -> None:
        hardware = SimHardware(capabilities, clock, time_scale, energy_wh)
        self.hardware = hardware
        self.board = SimBoard(hardware)
        self.meter = SimMeter(hardware, meter_id, key_path)
        self.controls = SimControls(hardware)
