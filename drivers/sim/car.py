"""The simulated car: its battery, its charging curve and what it shows on the control pilot."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import CPState, PilotSignal

TAPER_START_SOC = 0.8  # above this state of charge the current falls linearly ...
TAPER_END_FACTOR = 0.1  # ... to this fraction of the full current at 100 %
TAPER_STEP_SOC = 0.001  # integration step in the tapering region
OVERDRAW_FACTOR = 1.2  # the `overdraw` fault: the car draws this much of the advertised current
SOC_EPSILON = 1e-9


@dataclass
class SimCar:
    """A car plugged into the connector (mutable: its battery charges)."""

    capacity_wh: float
    soc: float
    target_soc: float
    max_current_a: float
    phases: int
    needs_ventilation: bool
    stop_delay_s: float = 0.0  # how long it goes on drawing once the PWM is gone (a slow car)
    paused: bool = False

    def __post_init__(self) -> None:
        _check(self.capacity_wh > 0, f"capacity_wh must be above 0, got {self.capacity_wh}")
        _check(0.0 <= self.soc <= 1.0, f"soc must be from 0 to 1, got {self.soc}")
        _check(0.0 <= self.target_soc <= 1.0, f"target_soc must be from 0 to 1, got {self.target_soc}")
        _check(self.max_current_a > 0, f"max_current_a must be above 0, got {self.max_current_a}")
        _check(self.phases in (1, 3), f"phases must be 1 or 3, got {self.phases}")
        _check(self.stop_delay_s >= 0, f"stop_delay_s must be 0 or more, got {self.stop_delay_s}")

    @property
    def full(self) -> bool:
        return self.soc >= self.target_soc - SOC_EPSILON

    def cp(self, pilot: PilotSignal, ventilation_fault: bool, pwm_gone_for_s: float | None = None) -> CPState:
        """What the car shows on the pilot: B unless PWM is on (or went off less than
        `stop_delay_s` ago) and it wants power."""
        offered = pilot.mode == "PWM" or (pwm_gone_for_s is not None and pwm_gone_for_s < self.stop_delay_s)
        if not offered or self.paused or self.full:
            return CPState.B
        return CPState.D if self.needs_ventilation or ventilation_fault else CPState.C

    def current_a(self, advertised_a: float, overdraw: bool) -> float:
        """The current per phase the car draws when the relays are closed."""
        if overdraw:
            return OVERDRAW_FACTOR * advertised_a
        return min(advertised_a, self.max_current_a) * taper_factor(self.soc)

    def step_limit_wh(self) -> float:
        """The most energy to take in one integration step (up to the next bend of the curve)."""
        to_target_wh = (self.target_soc - self.soc) * self.capacity_wh
        if self.soc < TAPER_START_SOC - SOC_EPSILON:
            to_bend_wh = (TAPER_START_SOC - self.soc) * self.capacity_wh
        else:
            to_bend_wh = TAPER_STEP_SOC * self.capacity_wh
        return min(to_target_wh, to_bend_wh)

    def charge(self, energy_wh: float) -> None:
        self.soc = min(1.0, self.soc + energy_wh / self.capacity_wh)
        if abs(self.soc - self.target_soc) < SOC_EPSILON:
            self.soc = self.target_soc


def taper_factor(soc: float) -> float:
    """1 up to 80 %, then linearly down to `TAPER_END_FACTOR` at 100 %."""
    if soc <= TAPER_START_SOC:
        return 1.0
    fall = (1.0 - TAPER_END_FACTOR) * (soc - TAPER_START_SOC) / (1.0 - TAPER_START_SOC)
    return max(TAPER_END_FACTOR, 1.0 - fall)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
