"""One connector's simulated hardware: the board's physics, the car, the faults, the meter register.

There are no threads: every call first integrates the physics from the time elapsed on the
clock (battery and energy run `time_scale` times faster), all under one lock. What the car and
the faults change (the controls) is told to the watcher (`watch`), as a board's interrupt
line would; what the board is told to do its driver's caller reads back itself, and what
changes with time alone (a battery that fills, a car slow to stop) shows at the next read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.base import BoardCapabilities, CPState, DriverError, PilotSignal
from drivers.clock import Clock
from drivers.sim.car import SimCar

VOLTAGE_V = 230.0
FAULT_KINDS: tuple[str, ...] = (
    "rcd",
    "diode",
    "relay_weld",
    "overcurrent",
    "overdraw",
    "ventilation",
    "cp_short",
    "lock_failure",
    "meter_comm",
    "board_comm",
)
_DRAWING_CP = (CPState.C, CPState.D)
Currents = tuple[float, float, float]


@dataclass(frozen=True)
class Snapshot:
    """Everything the simulated hardware shows at one instant."""

    cp: CPState
    plugged: bool
    relais_on: bool
    three_phases: bool
    locked: bool
    currents_a: Currents
    faults: frozenset[str]
    energy_wh: float
    plug_count: int = 0


class SimHardware:
    """The state behind SimBoard, SimMeter and SimControls."""

    def __init__(
        self, capabilities: BoardCapabilities, clock: Clock, time_scale: float = 1.0, energy_wh: float = 0.0
    ) -> None:
        """`energy_wh`: the meter register to count on from (a plant's persisted register)."""
        if time_scale <= 0:
            raise ValueError(f"time_scale must be above 0, got {time_scale}")
        self.capabilities = capabilities
        self.clock = clock
        self.lock = threading.RLock()
        self._time_scale = time_scale
        self._last_s = clock.monotonic()
        self._pilot = PilotSignal.x1()
        self._pwm_gone_s: float | None = None  # when the PWM last went off (clock seconds)
        self._last_pwm_a = 0.0  # the current it offered then
        self._power_allowed = False
        self._locked = False
        self._three_phases = capabilities.phases == 3
        self._car: SimCar | None = None
        self._faults: set[str] = set()
        self._energy_wh = energy_wh
        self.plug_count = 0  # plug-ins counted, as a board with a plug counter does
        self._notify: Callable[[], None] | None = None

    def watch(self, notify: Callable[[], None]) -> None:
        """Call `notify` after every change made by the controls (replaces the earlier one)."""
        with self.lock:
            self._notify = notify

    def _changed(self) -> None:
        if self._notify is not None:
            self._notify()

    # --- board side -------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self.lock:
            self._advance()
            return Snapshot(
                cp=self._cp(),
                plugged=self._car is not None,
                relais_on=self._relais_on(),
                three_phases=self._three_phases,
                locked=self._locked,
                currents_a=self._currents(),
                faults=frozenset(self._faults),
                energy_wh=self._energy_wh,
                plug_count=self.plug_count,
            )

    def set_pilot(self, signal: PilotSignal) -> None:
        with self.lock:
            self._advance()
            if signal.mode == "PWM":
                self._pwm_gone_s = None
            elif self._pilot.mode == "PWM":
                self._pwm_gone_s, self._last_pwm_a = self.clock.monotonic(), self._pilot.current_a()
            self._pilot = signal

    def allow_power(self, allowed: bool) -> None:
        with self.lock:
            self._advance()
            self._power_allowed = allowed

    def set_lock(self, locked: bool) -> bool:
        with self.lock:
            if not self.capabilities.lock:
                return False
            if not locked and self._locked and "lock_failure" in self._faults:
                return False
            self._locked = locked
            return True

    def switch_phases(self, three_phases: bool) -> None:
        with self.lock:
            self._advance()
            if not self.capabilities.phase_switching:
                raise DriverError("this board cannot switch phases")
            if three_phases and self.capabilities.phases != 3:
                raise DriverError("this board has one phase wired")
            if self._relais_on():
                raise DriverError("phases switch only with the relays open")
            self._three_phases = three_phases

    def keepalive_lost(self) -> bool:
        """No station talks to the board: power off and X1, as a board's keep-alive does; True if
        that changed anything. The car stays plugged in and the register keeps its count."""
        with self.lock:
            self._advance()
            changed = self._power_allowed or self._pilot.mode != "X1"
            self.allow_power(False)
            self.set_pilot(PilotSignal.x1())
            if changed:
                self._changed()
            return changed

    def check_comm(self, kind: str) -> None:
        """Raise DriverError while the communication fault `kind` is active."""
        with self.lock:
            if kind in self._faults:
                raise DriverError(f"simulated communication loss ({kind})")

    # --- controls ---------------------------------------------------------------------------

    def plug_in(self, car: SimCar) -> bool:
        with self.lock:
            self._advance()
            if self._car is not None:
                return False
            self._car = car
            self.plug_count += 1
            self._changed()
            return True

    def unplug(self) -> bool:
        with self.lock:
            self._advance()
            if self._car is None:
                return False
            self._car = None
            self._changed()
            return True

    def set_paused(self, paused: bool) -> bool:
        with self.lock:
            self._advance()
            if self._car is None or self._car.paused == paused:
                return False
            self._car.paused = paused
            self._changed()
            return True

    def add_fault(self, kind: str) -> bool:
        _check_kind(kind)
        with self.lock:
            self._advance()
            if kind in self._faults:
                return False
            self._faults.add(kind)
            self._changed()
            return True

    def clear_fault(self, kind: str | None) -> bool:
        if kind is not None:
            _check_kind(kind)
        with self.lock:
            self._advance()
            cleared = set(self._faults) if kind is None else {kind} & self._faults
            self._faults -= cleared
            if cleared:
                self._changed()
            return bool(cleared)

    def state(self) -> dict[str, Any]:
        with self.lock:
            snap = self.snapshot()
            car = self._car
            return {
                "plugged": snap.plugged,
                "cp": snap.cp.value,
                "soc": None if car is None else car.soc,
                "target_soc": None if car is None else car.target_soc,
                "paused": False if car is None else car.paused,
                "pilot": self._pilot.mode,
                "advertised_current_a": self._pilot.current_a(),
                "power_allowed": self._power_allowed,
                "relais_on": snap.relais_on,
                "three_phases": snap.three_phases,
                "locked": snap.locked,
                "currents_a": list(snap.currents_a),
                "faults": sorted(snap.faults),
                "energy_wh": snap.energy_wh,
            }

    # --- physics ----------------------------------------------------------------------------

    def _cp(self) -> CPState:
        if "cp_short" in self._faults:
            return CPState.E
        if self._car is None:
            return CPState.A
        gone_for_s = None if self._pwm_gone_s is None else self.clock.monotonic() - self._pwm_gone_s
        return self._car.cp(self._pilot, "ventilation" in self._faults, gone_for_s)

    def _offered_a(self) -> float:
        """The current the car may take: the PWM's, or the last PWM's while a slow car stops."""
        return self._pilot.current_a() if self._pilot.mode == "PWM" else self._last_pwm_a

    def _drawing(self) -> bool:
        """The relays are closed (as commanded) and the car takes power (it shows C or D only
        under PWM, or while a slow car stops drawing)."""
        tripped = "rcd" in self._faults or "overcurrent" in self._faults
        return self._power_allowed and self._cp() in _DRAWING_CP and not tripped

    def _relais_on(self) -> bool:
        return self._drawing() or "relay_weld" in self._faults

    def _currents(self) -> Currents:
        if self._car is None or not self._drawing():
            return (0.0, 0.0, 0.0)
        per_phase_a = self._car.current_a(self._offered_a(), "overdraw" in self._faults)
        if self._car.phases == 3 and self._three_phases:
            return (per_phase_a, per_phase_a, per_phase_a)
        return (per_phase_a, 0.0, 0.0)

    def _advance(self) -> None:
        now_s = self.clock.monotonic()
        sim_s = max(0.0, now_s - self._last_s) * self._time_scale
        self._last_s = max(now_s, self._last_s)
        while sim_s > 0.0:
            power_w = VOLTAGE_V * sum(self._currents())
            if self._car is None or power_w <= 0.0:
                return
            available_wh = power_w * sim_s / 3600.0
            limit_wh = self._car.step_limit_wh()
            step_wh = min(available_wh, limit_wh)
            self._car.charge(step_wh)
            self._energy_wh += step_wh
            if available_wh <= limit_wh:
                return
            sim_s -= step_wh * 3600.0 / power_w


def _check_kind(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}: must be one of {', '.join(FAULT_KINDS)}")
