"""The data of one connector's charging logic: enums of the contract, the model, outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum

from actors.settings import ConnectorSettings
from drivers.base import CPState, PilotSignal, ReadingContext


class State(StrEnum):
    Disabled = "Disabled"
    Idle = "Idle"
    WaitingForAuthentication = "WaitingForAuthentication"
    ChargingPausedEV = "ChargingPausedEV"
    Charging = "Charging"
    ChargingPausedEVSE = "ChargingPausedEVSE"
    Finished = "Finished"
    Error = "Error"
    Faulted = "Faulted"


class SessionEvent(StrEnum):
    Enabled = "Enabled"
    Disabled = "Disabled"
    SessionStarted = "SessionStarted"
    AuthRequired = "AuthRequired"
    ChargingStarted = "ChargingStarted"
    ChargingPausedEV = "ChargingPausedEV"
    ChargingPausedEVSE = "ChargingPausedEVSE"
    ChargingResumed = "ChargingResumed"
    SessionFinished = "SessionFinished"
    SessionCancelled = "SessionCancelled"
    Error = "Error"
    PermanentFault = "PermanentFault"
    ReservationStart = "ReservationStart"
    ReservationEnd = "ReservationEnd"
    ReservationAuthtokenMismatch = "ReservationAuthtokenMismatch"
    ReplugStarted = "ReplugStarted"
    ReplugFinished = "ReplugFinished"


class Error(StrEnum):
    Car = "Car"
    CarDiodeFault = "CarDiodeFault"
    Relais = "Relais"
    RCD = "RCD"
    VentilationNotAvailable = "VentilationNotAvailable"
    OverCurrent = "OverCurrent"
    Internal = "Internal"
    SLAC = "SLAC"
    HLC = "HLC"


CANCEL_REASONS = (
    "EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss",
    "Reboot", "Remote", "SoftReset", "UnlockCommand", "DeAuthorized",
)  # fmt: skip
RESERVATION_RESULTS = ("Accepted", "Faulted", "Occupied", "Rejected", "Unavailable")


@dataclass(frozen=True)
class Session:
    uuid: str
    reservation_id: int | None = None
    token: str | None = None
    parent_id: str | None = None
    authorized: bool = False
    cancelled: bool = False
    user_paused: bool = False
    start_energy_wh: float | None = None
    begin_signed_meter_value: str | None = None  # the OCMF reading taken at authorization (TX "B")
    authorized_at: float = 0.0  # Unix seconds: the station admits sessions in this order


@dataclass(frozen=True)
class PreAuth:
    token: str
    parent_id: str | None
    expires_at: float  # monotonic seconds

    @property
    def credentials(self) -> tuple[str, str | None]:
        return self.token, self.parent_id


@dataclass(frozen=True)
class Reservation:
    reservation_id: int
    auth_token: str
    expiry_time: float  # Unix seconds
    parent_id: str | None = None

    def start_payload(self) -> dict[str, object]:
        payload: dict[str, object] = {"reservation_id": self.reservation_id, "id_tag": self.auth_token}
        if self.parent_id is not None:
            payload["parent_id"] = self.parent_id
        return payload


@dataclass(frozen=True)
class Model:
    """Everything the state machine decides from; kept outside the actors so it survives them."""

    local_limit_a: float
    three_phases: bool
    enabled: bool = True
    faulted: bool = False
    plugged: bool = False
    cp: CPState = CPState.A
    errors: frozenset[Error] = frozenset()
    session: Session | None = None
    finished: bool = False  # waiting for accept_new_session
    pre_auth: PreAuth | None = None
    overdraw_since: float | None = None
    last_currents_a: tuple[float, ...] = (0.0, 0.0, 0.0)
    switching_to: bool | None = None  # three_phases of a phase switch in flight
    allocation_a: float | None = None  # the station's allocation; None without a station limit
    allocation_until: float | None = None  # monotonic seconds: past this the allocation is 0 A

    @property
    def session_uuid(self) -> str:
        """The open session's uuid, or "" outside a session (as session events carry it)."""
        return self.session.uuid if self.session is not None else ""

    @classmethod
    def initial(cls, settings: ConnectorSettings) -> Model:
        return cls(
            local_limit_a=settings.max_current_a,
            three_phases=settings.phases == 3,
            enabled=settings.enabled_at_start,
            allocation_a=0.0 if settings.grid_limited else None,
        )


@dataclass(frozen=True)
class Env:
    """What a step may read besides the model: settings, the reservation, the time, new uuids."""

    settings: ConnectorSettings
    reservation: Reservation | None
    now: float  # monotonic seconds
    new_uuid: Callable[[], str]
    time: float  # Unix seconds, for dates (a reservation's expiry)
    admission_a: float = 0.0  # what a session authorized in this step is allocated (claimed before)


@dataclass(frozen=True)
class HardwareOutput:
    pilot: PilotSignal
    power_allowed: bool
    locked: bool


@dataclass(frozen=True)
class Emit:
    """Publish a session event (the actor adds uuid, timestamps and energy)."""

    event: SessionEvent
    uuid: str = ""  # the session's uuid, "" outside a session
    error: Error | None = None
    reason: str | None = None
    reservation_id: int | None = None
    token: str | None = None  # the session's authorization, named in its signed meter values


@dataclass(frozen=True)
class StartReservation:
    """Keep the reservation (it replaces one of the same id) and publish ReservationStart."""

    reservation: Reservation


@dataclass(frozen=True)
class EndReservation:
    reason: str  # ReservationEndReason


@dataclass(frozen=True)
class Unlock:
    """Open the connector lock (after the events before it were published)."""


@dataclass(frozen=True)
class PhaseSwitch:
    """Begin switching to three phases (or one); its end comes back as `PhasesSwitched`."""

    three_phases: bool


Output = Emit | StartReservation | EndReservation | Unlock | PhaseSwitch


# --- replies that the hardware completes (a step's reply is a value or one of these) ----------------


@dataclass(frozen=True)
class BoardAnswer:
    """`ok` once the board does what the new state requires, `failed` when it could not be reached."""

    ok: object
    failed: object


@dataclass(frozen=True)
class LockAnswer:
    """Whether the lock opened (the step's `Unlock`)."""


@dataclass(frozen=True)
class MeterAnswer:
    """The meter's signed reading for this token and OCMF reading context."""

    token: str | None
    context: ReadingContext


class Pending(Enum):
    """A reply a step cannot give yet; the actor gives it later."""

    SWITCH_RESULT = "the result of the phase switch this step began, once it ended"
    AFTER_SWITCH = "this command's own reply, stepped again once the phase switch in flight ended"
