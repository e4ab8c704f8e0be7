"""The hardware contracts: the board-support driver and the power meter.

Everything above `drivers/` knows the hardware only through these two abstract classes.
A driver raises `DriverError` when it cannot talk to its device; that is not a board
error (those are reported in `BoardStatus`) but a communication failure that the
supervisor handles by restarting the actor that owns the driver.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class DriverError(Exception):
    """The driver could not talk to its device (communication lost, device not answering)."""


class DeviceLost(DriverError):
    """The device has not answered for longer than the station waits for a device to come back."""


class CPState(StrEnum):
    """Control pilot states of IEC 61851-1 as the board measures them."""

    A = "A"  # no car
    B = "B"  # car connected, not requesting power
    C = "C"  # car requests power
    D = "D"  # car requests power and needs ventilation
    E = "E"  # pilot shorted to earth / no pilot
    F = "F"  # EVSE not available (-12 V)


PilotMode = Literal["X1", "PWM", "F"]


@dataclass(frozen=True)
class PilotSignal:
    """What the board drives on the control pilot: steady +12 V, PWM with a duty cycle, or -12 V."""

    mode: PilotMode
    duty_percent: float = 0.0

    @classmethod
    def x1(cls) -> PilotSignal:
        return cls("X1")

    @classmethod
    def f(cls) -> PilotSignal:
        return cls("F")

    @classmethod
    def pwm(cls, current_a: float) -> PilotSignal:
        return cls("PWM", duty_cycle_percent(current_a))

    def current_a(self) -> float:
        """The current this signal advertises to the car (0 without PWM)."""
        return current_for_duty(self.duty_percent) if self.mode == "PWM" else 0.0


MIN_CURRENT_A = 6.0
MAX_CURRENT_A = 80.0


def duty_cycle_percent(current_a: float) -> float:
    """PWM duty for a current (IEC 61851-1 table A.7); raises ValueError outside 6..80 A."""
    if not MIN_CURRENT_A <= current_a <= MAX_CURRENT_A:
        raise ValueError(f"no PWM duty for {current_a} A: must be from 6 to 80 A")
    if current_a <= 51.0:
        return current_a / 0.6
    return current_a / 2.5 + 64.0


def current_for_duty(duty_percent: float) -> float:
    """The current a car reads from a PWM duty (the inverse of `duty_cycle_percent`)."""
    if duty_percent <= 85.0:
        return duty_percent * 0.6
    return (duty_percent - 64.0) * 2.5


@dataclass(frozen=True)
class BoardCapabilities:
    """What a board can do; the connector uses only what its board has."""

    max_current_a: float
    phases: int  # phases wired: 1 or 3
    phase_switching: bool
    lock: bool
    state_f: bool = True  # can drive -12 V (F) on the pilot; without it Faulted is X1 with power off
    relay_feedback: bool = True  # reports the relays as sensed
    rcd_reporting: bool = True  # reports a tripped residual-current device
    telemetry: bool = True  # has the `Telemetry` fields (temperature, supplies, ...)


@dataclass(frozen=True)
class BoardStatus:
    """One reading of everything the board senses."""

    cp: CPState
    plugged: bool  # proximity pilot: a plug is in the socket, whatever the CP says
    relais_on: bool  # sensed, not commanded
    three_phases: bool  # phases switched in now
    locked: bool
    currents_a: tuple[float, float, float] = (0.0, 0.0, 0.0)
    diode_fault: bool = False
    rcd_tripped: bool = False
    relay_welded: bool = False
    overcurrent_tripped: bool = False
    plug_count: int | None = None  # plug-ins the board has counted, where it counts them


@dataclass(frozen=True)
class Telemetry:
    """The board's telemetry: the `Telemetry` payload of the contract."""

    temperature: float
    fan_rpm: float
    supply_voltage_12V: float
    supply_voltage_minus_12V: float
    rcd_current: float
    relais_on: bool

    def to_payload(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "fan_rpm": self.fan_rpm,
            "supply_voltage_12V": self.supply_voltage_12V,
            "supply_voltage_minus_12V": self.supply_voltage_minus_12V,
            "rcd_current": self.rcd_current,
            "relais_on": self.relais_on,
        }


class Board(abc.ABC):
    """Board-support driver: control pilot, relays, lock, phase switching, telemetry."""

    @abc.abstractmethod
    def capabilities(self) -> BoardCapabilities: ...

    @abc.abstractmethod
    def status(self) -> BoardStatus: ...

    @abc.abstractmethod
    def set_pilot(self, signal: PilotSignal) -> None:
        """Drive X1, PWM at a duty cycle, or F on the control pilot."""

    @abc.abstractmethod
    def allow_power(self, allowed: bool) -> None:
        """Allow the relays to close when the car requests power (False opens them at once)."""

    @abc.abstractmethod
    def set_lock(self, locked: bool) -> bool:
        """Lock or unlock the connector; True when the lock is now in the asked position."""

    @abc.abstractmethod
    def switch_phases(self, three_phases: bool) -> None:
        """Switch between one and three phases; only with relays open. DriverError on failure."""

    @abc.abstractmethod
    def telemetry(self) -> Telemetry: ...

    def on_change(self, notify: Callable[[], None]) -> bool:
        """Call `notify` (on any thread, never blocking) whenever what `status()` shows may have
        changed, instead of each time before; False when the board cannot, and must be polled.
        A later call replaces the earlier `notify`."""
        return False

    def on_report(self, interval_s: float, notify: Callable[[], None]) -> bool:
        """Have the board send its status and telemetry by itself every `interval_s`, calling
        `notify` (on any thread, never blocking) as each arrives; `reported()` then gives it
        without a call. False when the board cannot: it is read on a timer. A later call
        replaces the earlier one."""
        return False

    def reported(self) -> tuple[BoardStatus, Telemetry]:
        """The newest status and telemetry the board sent (or a call read); DriverError when the
        board reported that it does not answer."""
        return self.status(), self.telemetry()


@dataclass(frozen=True)
class MeterReading:
    """One meter reading; `to_payload` gives the contract's `Powermeter` map."""

    timestamp: float  # Unix seconds
    meter_id: str
    energy_import_wh: float
    energy_export_wh: float = 0.0
    power_w: tuple[float, float, float] = (0.0, 0.0, 0.0)
    voltage_v: tuple[float, float, float] = (230.0, 230.0, 230.0)
    current_a: tuple[float, float, float] = (0.0, 0.0, 0.0)
    frequency_hz: float = 50.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        l1, l2, l3 = self.power_w
        v1, v2, v3 = self.voltage_v
        a1, a2, a3 = self.current_a
        return {
            "timestamp": self.timestamp,
            "meter_id": self.meter_id,
            "energy_Wh_import": {"total": self.energy_import_wh},
            "energy_Wh_export": {"total": self.energy_export_wh},
            "power_W": {"total": l1 + l2 + l3, "L1": l1, "L2": l2, "L3": l3},
            "voltage_V": {"L1": v1, "L2": v2, "L3": v3},
            "current_A": {"L1": a1, "L2": a2, "L3": a3},
            "frequency_Hz": {"L1": self.frequency_hz, "L2": self.frequency_hz, "L3": self.frequency_hz},
        }


ReadingContext = Literal["B", "E", "T"]  # OCMF TX: session begin, end, or any other time


class Meter(abc.ABC):
    """Power meter driver: readings and signed (OCMF) readings."""

    @abc.abstractmethod
    def reading(self) -> MeterReading: ...

    @abc.abstractmethod
    def signed_reading(self, token: str | None, context: ReadingContext) -> str:
        """An OCMF string `OCMF|{payload}|{signature}` of the current reading, signed by the meter."""

    @abc.abstractmethod
    def public_key_pem(self) -> str | None:
        """The meter's signing key (PEM SubjectPublicKeyInfo), or None if it does not sign."""

    def on_report(self, interval_s: float, notify: Callable[[], None]) -> bool:
        """Have the meter send its reading by itself every `interval_s`, calling `notify` (on any
        thread, never blocking) as each arrives; `reported()` then gives it without a call.
        False when the meter cannot: it is read on a timer. A later call replaces the earlier one."""
        return False

    def reported(self) -> MeterReading:
        """The newest reading the meter sent (a fresh one is `reading()`); DriverError when the
        meter reported that it does not answer."""
        return self.reading()
