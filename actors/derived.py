"""What is derived from a connector's model: its state, what the board must do, the board's errors.

The connector state (`State`) is never stored: `state_of` derives it from the model, and
`hardware_output` derives the control pilot and the relays from the state, so one table
decides what the board does in each state. `transition_event` names the charging event a
change of state publishes; `board_errors` reads the spec's table of errors from the board;
`reservation_verdict` answers reserve_now from the state.
"""

from __future__ import annotations

from actors.messages import BoardReport
from actors.model import Env, Error, HardwareOutput, Model, Reservation, SessionEvent, State
from drivers.base import MIN_CURRENT_A, CPState, PilotSignal

LATCHED_UNTIL_UNPLUG = frozenset({Error.CarDiodeFault, Error.OverCurrent, Error.VentilationNotAvailable})
PLUG_ERRORS = frozenset({Error.Car, Error.CarDiodeFault, Error.OverCurrent, Error.VentilationNotAvailable})


def allowed_current_a(model: Model, env: Env) -> float:
    """The per-phase current the connector may offer: maximum, local limit, station allocation."""
    allowed_a = min(env.settings.max_current_a, model.local_limit_a)
    return allowed_a if model.allocation_a is None else min(allowed_a, model.allocation_a)


def allocation_expired(model: Model, now: float) -> bool:
    """The station's allocation was not renewed in time: the connector must fall to 0 A."""
    until = model.allocation_until
    return until is not None and now > until and bool(model.allocation_a)


def authorized(model: Model) -> bool:
    """An authorized session that was not cancelled is open."""
    session = model.session
    return session is not None and session.authorized and not session.cancelled


def _session_state(model: Model, env: Env) -> State:
    session = model.session
    if session is None:
        return State.Idle
    if session.cancelled or (session.authorized and session.user_paused):
        return State.ChargingPausedEVSE
    if not session.authorized:
        return State.WaitingForAuthentication
    if allowed_current_a(model, env) < MIN_CURRENT_A:
        return State.ChargingPausedEVSE
    if model.cp in (CPState.C, CPState.D):
        return State.Charging
    return State.ChargingPausedEV


def state_of(model: Model, env: Env) -> State:
    """The connector state of evse-manager.md, derived from the model (first match wins)."""
    if model.faulted:
        return State.Faulted
    if not model.enabled:
        return State.Disabled
    if model.errors:
        return State.Error
    if model.finished:
        return State.Finished
    return _session_state(model, env)


def hardware_output(model: Model, env: Env) -> HardwareOutput:
    """What the board must do in the model's state: the spec's state table."""
    state = state_of(model, env)
    locked = env.settings.lock and _locks_cable(model)
    if state is State.Faulted:  # a board that cannot drive F shows X1, the power off all the same
        return HardwareOutput(PilotSignal.f() if env.settings.state_f else PilotSignal.x1(), False, locked)
    if state in (State.Charging, State.ChargingPausedEV):
        return HardwareOutput(PilotSignal.pwm(allowed_current_a(model, env)), True, locked)
    return HardwareOutput(PilotSignal.x1(), False, locked)


def _locks_cable(model: Model) -> bool:
    session = model.session
    return model.plugged and session is not None and session.authorized and not session.cancelled


# --- events that follow from a change of state ----------------------------------------------------

_PAUSE_OR_RESUME_FROM = frozenset({State.Charging, State.ChargingPausedEV, State.ChargingPausedEVSE})
TRANSITION_EVENTS: dict[State, SessionEvent] = {
    State.Charging: SessionEvent.ChargingResumed,
    State.ChargingPausedEV: SessionEvent.ChargingPausedEV,
    State.ChargingPausedEVSE: SessionEvent.ChargingPausedEVSE,
}


def transition_event(before: State, after: State, model: Model) -> SessionEvent | None:
    """The charging event a state change publishes in an authorized, uncancelled session.

    Between the charging states every change is published; back from Error only the car
    drawing again is (ChargingResumed). Authorization publishes its own events.
    """
    session = model.session
    if before is after or session is None or not session.authorized or session.cancelled:
        return None
    if before in _PAUSE_OR_RESUME_FROM or (before is State.Error and after is State.Charging):
        return TRANSITION_EVENTS.get(after)
    return None


# --- errors from the board ------------------------------------------------------------------------


def board_errors(model: Model, report: BoardReport) -> frozenset[Error]:
    """The errors the board reports now, plus those that last until unplug."""
    status = report.status
    now: set[Error] = set()
    if status.cp is CPState.E:
        now.add(Error.Car)
    if status.diode_fault:
        now.add(Error.CarDiodeFault)
    if status.cp is CPState.D:
        now.add(Error.VentilationNotAvailable)
    if status.rcd_tripped:
        now.add(Error.RCD)
    if status.relay_welded:
        now.add(Error.Relais)
    if status.overcurrent_tripped:
        now.add(Error.OverCurrent)
    latched = model.errors & LATCHED_UNTIL_UNPLUG
    if status.cp is CPState.C:
        latched -= {Error.VentilationNotAvailable}
    if not status.plugged:
        return frozenset(now - PLUG_ERRORS)
    return frozenset(now | latched)


# --- reservations ---------------------------------------------------------------------------------

_UNAVAILABLE_STATES = {State.Disabled: "Unavailable", State.Faulted: "Faulted", State.Error: "Faulted"}
_OCCUPIED_STATES = frozenset(
    {
        State.WaitingForAuthentication,
        State.ChargingPausedEV,
        State.Charging,
        State.ChargingPausedEVSE,
        State.Finished,
    }
)


def reservation_verdict(
    state: State,
    plugged: bool,
    expiry_time: float,
    now: float,
    current: Reservation | None,
    reservation_id: int,
) -> str | None:
    """The ReservationResult of reserve_now in the contract's order, or None when it may be accepted."""
    if state in _UNAVAILABLE_STATES:
        return _UNAVAILABLE_STATES[state]
    if expiry_time <= now:
        return "Rejected"
    if plugged or state in _OCCUPIED_STATES:
        return "Occupied"
    if current is not None and current.reservation_id != reservation_id:
        return "Occupied"
    return None
