"""Messages between the actors and from the API: immutable values."""

from __future__ import annotations

from dataclasses import dataclass

from actors.model import HardwareOutput, Reservation
from drivers.base import BoardStatus, ReadingContext


@dataclass(frozen=True)
class Tick:
    """Time passed: check timers and poll devices (the station's timer, when the actor asked for it)."""


@dataclass(frozen=True)
class Reported:
    """The device sent its periodic report by itself (`reported()` of its driver gives it)."""


@dataclass(frozen=True)
class ChaosKill:
    """Fail as if the handler raised (chaos testing)."""


@dataclass(frozen=True)
class ChaosHang:
    """Block the actor's thread this long (chaos testing)."""

    seconds: float


@dataclass(frozen=True)
class BoardReport:
    status: BoardStatus


@dataclass(frozen=True)
class GiveUp:
    """The connector's supervisor gave up on it: Faulted, with the error Internal."""


@dataclass(frozen=True)
class PhasesSwitched:
    """A phase switch ended (told by the hardware actor): its result and the board's mode now."""

    result: str  # SwitchThreePhasesWhileChargingResult
    three_phases: bool


# Commands of the evse_manager interface (asks to the session actor)
@dataclass(frozen=True)
class Enable:
    pass


@dataclass(frozen=True)
class Disable:
    pass


@dataclass(frozen=True)
class SetFaulted:
    pass


@dataclass(frozen=True)
class PauseCharging:
    pass


@dataclass(frozen=True)
class ResumeCharging:
    pass


@dataclass(frozen=True)
class CancelCharging:
    reason: str


@dataclass(frozen=True)
class AcceptNewSession:
    pass


@dataclass(frozen=True)
class Authorize:
    auth_token: str
    parent_id: str | None = None


@dataclass(frozen=True)
class SetLocalMaxCurrent:
    max_current: float


@dataclass(frozen=True)
class ForceUnlock:
    pass


@dataclass(frozen=True)
class SetAllocation:
    """The station's allocation of its grid limit to this connector (None: no station limit).

    Held for `charging.ALLOCATION_HOLD_S` and renewed by the allocator; 0 A once it runs out.
    """

    current_a: float | None


@dataclass(frozen=True)
class ReserveNow:
    reservation_id: int
    auth_token: str
    expiry_date: float  # Unix seconds
    parent_id: str | None = None


@dataclass(frozen=True)
class CancelReservation:
    pass


@dataclass(frozen=True)
class SwitchThreePhases:
    three_phases: bool


@dataclass(frozen=True)
class GetSignedMeterValue:
    reading: str = "now"  # or "begin": the session's reading taken at authorization


# Asks to the hardware actor
@dataclass(frozen=True)
class ApplyOutput:
    output: HardwareOutput


@dataclass(frozen=True)
class ReadStatus:
    pass


@dataclass(frozen=True)
class SetLock:
    locked: bool


@dataclass(frozen=True)
class SwitchPhases:
    """Begin a phase switch: answered at once; `PhasesSwitched` is told when it ended."""

    three_phases: bool


# Asks to the meter actor
@dataclass(frozen=True)
class ReadMeter:
    pass


@dataclass(frozen=True)
class SignReading:
    token: str | None
    context: ReadingContext


# Asks to the reservation actor
@dataclass(frozen=True)
class StoreReservation:
    reservation: Reservation


@dataclass(frozen=True)
class EndReservationNow:
    reason: str


@dataclass(frozen=True)
class Keyed:
    """A command that carried an idempotency key: its reply is journaled with its change."""

    message: object
    key: tuple[str, int | str]
