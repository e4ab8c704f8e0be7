"""The charging state machine of one connector: a table of handlers and a small step function.

`step(model, message, env)` returns the next model, the ordered outputs (session events
to publish, reservation and lock operations) and the reply to a command. What the model
means (its state, the board output, the board's errors) is in `actors.derived`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from actors.derived import (
    TRANSITION_EVENTS,
    allocation_expired,
    allowed_current_a,
    board_errors,
    hardware_output,
    reservation_verdict,
    state_of,
    transition_event,
)
from actors.messages import (
    AcceptNewSession,
    Authorize,
    BoardReport,
    CancelCharging,
    CancelReservation,
    Disable,
    Enable,
    ForceUnlock,
    GetSignedMeterValue,
    GiveUp,
    PauseCharging,
    PhasesSwitched,
    ReserveNow,
    ResumeCharging,
    SetAllocation,
    SetFaulted,
    SetLocalMaxCurrent,
    SwitchThreePhases,
    Tick,
)
from actors.model import (
    CANCEL_REASONS,
    BoardAnswer,
    Emit,
    EndReservation,
    Env,
    Error,
    LockAnswer,
    MeterAnswer,
    Model,
    Output,
    Pending,
    PhaseSwitch,
    PreAuth,
    Reservation,
    Session,
    SessionEvent,
    StartReservation,
    State,
    Unlock,
)
from drivers.base import MIN_CURRENT_A

OVERDRAW_FACTOR = 1.1
OVERDRAW_LIMIT_S = 7.0
ALLOCATION_HOLD_S = 10.0  # a station allocation not renewed within this falls to 0 A


@dataclass(frozen=True)
class Step:
    """The next model, what the actors carry out, and the reply: a value, or one the hardware
    completes (`BoardAnswer`, `LockAnswer`, `MeterAnswer`) or gives later (`Pending`)."""

    model: Model
    outputs: tuple[Output, ...] = ()
    reply: Any = None


def _emit(model: Model, event: SessionEvent, **details: Any) -> Emit:
    """A session event of the model's session ("" as uuid outside a session)."""
    token = model.session.token if model.session is not None else None
    return Emit(event, model.session_uuid, token=token, **details)


# --- sessions -----------------------------------------------------------------------------------


def _admitted(reservation: Reservation | None, token: str, parent_id: str | None) -> bool:
    """A reservation admits its own token, or any token with the reservation's parent id."""
    if reservation is None:
        return True
    return token == reservation.auth_token or (parent_id is not None and parent_id == reservation.parent_id)


def _authorize_session(model: Model, env: Env, token: str | None, parent_id: str | None) -> Step:
    assert model.session is not None
    session = replace(
        model.session, authorized=True, token=token, parent_id=parent_id, authorized_at=env.time
    )
    outputs: list[Output] = []
    if env.reservation is not None:
        outputs.append(EndReservation("UsedToStartCharging"))
    model = _admitted_now(replace(model, session=session), env)
    outputs.append(_emit(model, SessionEvent.ChargingStarted))
    follow_up = TRANSITION_EVENTS.get(state_of(model, env))
    if follow_up is not None:
        outputs.append(_emit(model, follow_up))
    return Step(model, tuple(outputs), True)


def _admitted_now(model: Model, env: Env) -> Model:
    """A session authorized with the minimum claimed for it charges at once: no budget pause first."""
    allocation_a = model.allocation_a
    if allocation_a is None or allocation_a >= MIN_CURRENT_A or env.admission_a < MIN_CURRENT_A:
        return model
    return replace(model, allocation_a=env.admission_a, allocation_until=env.now + ALLOCATION_HOLD_S)


def _open_session(model: Model, env: Env) -> Step:
    """A car is present on an available connector: SessionStarted, then authorization."""
    reservation_id = env.reservation.reservation_id if env.reservation else None
    session = Session(uuid=env.new_uuid(), reservation_id=reservation_id)
    model = replace(model, session=session, finished=False)
    pre_auth, model = model.pre_auth, replace(model, pre_auth=None)
    if (
        pre_auth is not None
        and pre_auth.expires_at > env.now
        and _admitted(env.reservation, *pre_auth.credentials)
    ):
        return _started(_authorize_session(model, env, *pre_auth.credentials), reservation_id)
    if env.settings.free_charging and env.reservation is None:
        return _started(_authorize_session(model, env, None, None), reservation_id)
    started = _emit(model, SessionEvent.SessionStarted, reservation_id=reservation_id)
    return Step(model, (started, _emit(model, SessionEvent.AuthRequired)))


def _started(authorized: Step, reservation_id: int | None) -> Step:
    """A session authorized as it opens: SessionStarted first, naming that authorization."""
    started = _emit(authorized.model, SessionEvent.SessionStarted, reservation_id=reservation_id)
    return Step(authorized.model, (started, *authorized.outputs))


def _may_open_session(model: Model) -> bool:
    return (
        model.plugged
        and model.session is None
        and model.enabled
        and not model.faulted
        and not model.errors
        and not model.finished
    )


def _close_session(model: Model, env: Env) -> Step:
    """The car left: SessionFinished, and the connector returns to its configured phases."""
    finished = _emit(model, SessionEvent.SessionFinished)
    model = replace(model, session=None, finished=env.settings.require_accept_new_session)
    if model.allocation_a is not None:  # a connector without a session is allocated nothing
        model = replace(model, allocation_a=0.0, allocation_until=None)
    configured = _to_configured_phases(model, env)
    return Step(configured.model, (finished, *configured.outputs))


def _cancel(model: Model, reason: str) -> Step:
    assert model.session is not None
    session = replace(model.session, cancelled=True)
    return Step(
        replace(model, session=session), (_emit(model, SessionEvent.SessionCancelled, reason=reason),)
    )


def _open_session_uncancelled(model: Model) -> bool:
    return model.session is not None and not model.session.cancelled


# --- the board ----------------------------------------------------------------------------------


def _on_board(model: Model, report: BoardReport, env: Env) -> Step:
    status = report.status
    outputs: list[Output] = []
    if model.plugged and not status.plugged and model.session is not None:
        closed = _close_session(model, env)
        model, outputs = closed.model, list(closed.outputs)
    errors = board_errors(model, report)
    for error in sorted(errors - model.errors):
        outputs.append(_emit(model, SessionEvent.Error, error=error))
    model = replace(model, plugged=status.plugged, cp=status.cp, errors=errors)
    if not status.plugged:
        model = replace(model, overdraw_since=None)
    model, overdraw = _check_overdraw(model, status.currents_a, env)
    outputs.extend(overdraw)
    if _may_open_session(model):
        opened = _open_session(model, env)
        model = opened.model
        outputs.extend(opened.outputs)
    return Step(model, tuple(outputs))


def _check_overdraw(model: Model, currents_a: tuple[float, ...], env: Env) -> tuple[Model, list[Output]]:
    """The 7 s rule: any phase above 1.1 x the allowed current for more than 7 s is OverCurrent."""
    drawing = state_of(model, env) is State.Charging
    limit_a = OVERDRAW_FACTOR * allowed_current_a(model, env)
    if not drawing or max(currents_a, default=0.0) <= limit_a:
        return replace(model, overdraw_since=None, last_currents_a=tuple(currents_a)), []
    model = replace(model, last_currents_a=tuple(currents_a))
    if model.overdraw_since is None:
        return replace(model, overdraw_since=env.now), []
    if env.now - model.overdraw_since <= OVERDRAW_LIMIT_S:
        return model, []
    errors = model.errors | {Error.OverCurrent}
    return replace(model, errors=errors, overdraw_since=None), [
        _emit(model, SessionEvent.Error, error=Error.OverCurrent)
    ]


def _on_tick(model: Model, tick: Tick, env: Env) -> Step:
    if model.pre_auth is not None and model.pre_auth.expires_at <= env.now:
        model = replace(model, pre_auth=None)
    if allocation_expired(model, env.now):  # the allocator is gone: safe at 0 A
        model = replace(model, allocation_a=0.0, allocation_until=None)
    if model.overdraw_since is None:
        return Step(model)
    model, outputs = _check_overdraw(model, model.last_currents_a, env)
    return Step(model, tuple(outputs))


# --- commands -----------------------------------------------------------------------------------


def _enable(model: Model, command: Enable, env: Env) -> Step:
    if model.faulted:
        return Step(model, reply=False)
    if model.enabled:
        return Step(model, reply=True)
    model = replace(model, enabled=True)
    outputs: tuple[Output, ...] = (_emit(model, SessionEvent.Enabled),)
    if _may_open_session(model):
        opened = _open_session(model, env)
        model, outputs = opened.model, outputs + opened.outputs
    return Step(model, outputs, True)


def _disable(model: Model, command: Disable, env: Env) -> Step:
    if not model.enabled and not model.faulted:
        return Step(model, reply=True)
    outputs: list[Output] = []
    if _open_session_uncancelled(model):
        cancelled = _cancel(model, "Local")
        model, outputs = cancelled.model, list(cancelled.outputs)
    model = replace(model, enabled=False, faulted=False, pre_auth=None)
    outputs.append(_emit(model, SessionEvent.Disabled))
    if env.reservation is not None:
        outputs.append(EndReservation("Cancelled"))
    return Step(model, tuple(outputs), BoardAnswer(ok=True, failed=False))


def set_faulted(model: Model, env: Env, error: Error | None = None) -> Step:
    """Faulted by an operator (`set_faulted`) or by the supervisor giving up (with an error)."""
    if model.faulted:
        return Step(model, reply=True)
    outputs: list[Output] = []
    if _open_session_uncancelled(model):
        cancelled = _cancel(model, "Other")
        model, outputs = cancelled.model, list(cancelled.outputs)
    model = replace(model, faulted=True, pre_auth=None)
    outputs.append(_emit(model, SessionEvent.PermanentFault, error=error))
    if env.reservation is not None:
        outputs.append(EndReservation("Cancelled"))
    return Step(model, tuple(outputs), True)


def _set_faulted(model: Model, command: SetFaulted, env: Env) -> Step:
    return set_faulted(model, env)


def _give_up(model: Model, message: GiveUp, env: Env) -> Step:
    return set_faulted(model, env, Error.Internal)


def _authorized_uncancelled(model: Model) -> Session | None:
    session = model.session
    if session is None or not session.authorized or session.cancelled:
        return None
    return session


def _pause(model: Model, command: PauseCharging, env: Env) -> Step:
    session = _authorized_uncancelled(model)
    if session is None:
        return Step(model, reply=False)
    return Step(replace(model, session=replace(session, user_paused=True)), reply=True)


def _resume(model: Model, command: ResumeCharging, env: Env) -> Step:
    session = _authorized_uncancelled(model)
    if session is None or not session.user_paused or allowed_current_a(model, env) < MIN_CURRENT_A:
        return Step(model, reply=False)
    return Step(replace(model, session=replace(session, user_paused=False)), reply=True)


def _cancel_charging(model: Model, command: CancelCharging, env: Env) -> Step:
    if command.reason not in CANCEL_REASONS:
        raise ValueError(f"reason must be one of {sorted(CANCEL_REASONS)}, got {command.reason!r}")
    if not _open_session_uncancelled(model):
        return Step(model, reply=False)
    cancelled = _cancel(model, command.reason)
    return replace(cancelled, reply=True)


def _accept_new_session(model: Model, command: AcceptNewSession, env: Env) -> Step:
    state = state_of(model, env)
    if state is State.Idle:
        return Step(model, reply=True)
    if state is not State.Finished:
        return Step(model, reply=False)
    model = replace(model, finished=False)
    if _may_open_session(model):
        opened = _open_session(model, env)
        return replace(opened, reply=True)
    return Step(model, reply=True)


def _authorize(model: Model, command: Authorize, env: Env) -> Step:
    state = state_of(model, env)
    if state in (State.Disabled, State.Faulted, State.Error):
        return Step(model, reply=False)
    session = model.session
    if session is not None and (session.cancelled or session.authorized):
        return Step(model, reply=not session.cancelled and session.token == command.auth_token)
    if not _admitted(env.reservation, command.auth_token, command.parent_id):
        return Step(model, (_emit(model, SessionEvent.ReservationAuthtokenMismatch),), False)
    if session is None:
        pre_auth = PreAuth(command.auth_token, command.parent_id, env.now + env.settings.auth_timeout_s)
        return Step(replace(model, pre_auth=pre_auth), reply=True)
    return _authorize_session(model, env, command.auth_token, command.parent_id)


def _set_local_max_current(model: Model, command: SetLocalMaxCurrent, env: Env) -> Step:
    current_a = command.max_current
    if math.isnan(current_a) or not 0.0 <= current_a <= env.settings.max_current_a:
        return Step(model, reply="Error_OutOfRange")
    answer = BoardAnswer(ok="Success", failed="Error_Hardware")
    return Step(replace(model, local_limit_a=float(current_a)), reply=answer)


def _set_allocation(model: Model, command: SetAllocation, env: Env) -> Step:
    """The station's allocation, held for ALLOCATION_HOLD_S; only an authorized session gets current."""
    current_a = command.current_a
    confirmed = BoardAnswer(ok=True, failed=False)  # a decrease counts once the board applied it
    if current_a is None:
        return Step(replace(model, allocation_a=None, allocation_until=None), reply=confirmed)
    if math.isnan(current_a) or current_a < 0:
        raise ValueError(f"an allocation must be a number of amperes >= 0, got {current_a!r}")
    if _authorized_uncancelled(model) is None:
        current_a = 0.0
    until = env.now + ALLOCATION_HOLD_S
    return Step(replace(model, allocation_a=float(current_a), allocation_until=until), reply=confirmed)


def _force_unlock(model: Model, command: ForceUnlock, env: Env) -> Step:
    if not env.settings.lock:
        return Step(model, reply=False)
    if not _open_session_uncancelled(model):
        return Step(model, (Unlock(),), LockAnswer())
    cancelled = _cancel(model, "UnlockCommand")
    return Step(cancelled.model, (*cancelled.outputs, Unlock()), LockAnswer())


# --- reservations and signed values ---------------------------------------------------------------


def _reserve_now(model: Model, command: ReserveNow, env: Env) -> Step:
    """Checked in the contract's order (`reservation_verdict`); accepted, it replaces one of its id."""
    verdict = reservation_verdict(
        state_of(model, env),
        model.plugged,
        command.expiry_date,
        env.time,
        env.reservation,
        command.reservation_id,
    )
    if verdict is not None:
        return Step(model, reply=verdict)
    reservation = Reservation(
        command.reservation_id, command.auth_token, command.expiry_date, command.parent_id
    )
    return Step(model, (StartReservation(reservation),), "Accepted")


def _cancel_reservation(model: Model, command: CancelReservation, env: Env) -> Step:
    if env.reservation is None:
        return Step(model, reply=False)
    return Step(model, (EndReservation("Cancelled"),), True)


def _get_signed_meter_value(model: Model, command: GetSignedMeterValue, env: Env) -> Step:
    """The meter signs a reading now ("T"), naming the session's token when it has one; "begin" is
    the authorized session's reading taken at authorization ("" outside an authorized session)."""
    session = model.session
    if command.reading == "begin":
        begin = session.begin_signed_meter_value if session is not None and session.authorized else None
        return Step(model, reply=begin or "")
    return Step(model, reply=MeterAnswer(session.token if session is not None else None, "T"))


# --- phases -------------------------------------------------------------------------------------


def _switch_three_phases(model: Model, command: SwitchThreePhases, env: Env) -> Step:
    """Answered when the switch ended; one switch at a time, the next command waits for it."""
    if not env.settings.phase_switching:
        return Step(model, reply="Error_NotSupported")
    if _authorized_uncancelled(model) is None:
        return Step(model, reply="Error_NotCharging")
    if model.switching_to is not None:
        return Step(model, reply=Pending.AFTER_SWITCH)
    if model.three_phases == command.three_phases:
        return Step(model, reply="Success")
    return _begin_switch(model, command.three_phases, Pending.SWITCH_RESULT)


def _begin_switch(model: Model, three_phases: bool, reply: Any = None) -> Step:
    return Step(replace(model, switching_to=three_phases), (PhaseSwitch(three_phases),), reply)


def _phases_switched(model: Model, message: PhasesSwitched, env: Env) -> Step:
    """A switch ended: the board's mode now; without a session, back to the configured phases."""
    model = replace(model, three_phases=message.three_phases, switching_to=None)
    return replace(_to_configured_phases(model, env), reply=message.result)


def _to_configured_phases(model: Model, env: Env) -> Step:
    """Outside a session a connector that can switch goes back to its configured phases."""
    configured = env.settings.phases == 3
    if (
        model.session is not None
        or not env.settings.phase_switching
        or model.switching_to is not None
        or model.three_phases == configured
    ):
        return Step(model)
    return _begin_switch(model, configured)


def _on_board_message(model: Model, message: BoardReport, env: Env) -> Step:
    return _on_board(model, message, env)


Handler = Callable[[Model, Any, Env], Step]

TRANSITIONS: dict[type, Handler] = {
    BoardReport: _on_board_message,
    Tick: _on_tick,
    Enable: _enable,
    Disable: _disable,
    SetFaulted: _set_faulted,
    GiveUp: _give_up,
    PauseCharging: _pause,
    ResumeCharging: _resume,
    CancelCharging: _cancel_charging,
    AcceptNewSession: _accept_new_session,
    Authorize: _authorize,
    SetLocalMaxCurrent: _set_local_max_current,
    SetAllocation: _set_allocation,
    ForceUnlock: _force_unlock,
    SwitchThreePhases: _switch_three_phases,
    PhasesSwitched: _phases_switched,
    ReserveNow: _reserve_now,
    CancelReservation: _cancel_reservation,
    GetSignedMeterValue: _get_signed_meter_value,
}


def step(model: Model, message: object, env: Env) -> Step:
    """Apply one message to the model; add the charging event the change of state implies."""
    handler = TRANSITIONS.get(type(message))
    if handler is None:
        raise TypeError(f"the charging state machine does not handle {type(message).__name__}")
    before = state_of(model, env)
    result = handler(model, message, env)
    return with_transition_event(before, result, env)


def with_transition_event(before: State, result: Step, env: Env) -> Step:
    event = transition_event(before, state_of(result.model, env), result.model)
    if event is None:
        return result
    return replace(result, outputs=(*result.outputs, _emit(result.model, event)))


__all__ = [
    "TRANSITIONS",
    "Step",
    "allowed_current_a",
    "board_errors",
    "hardware_output",
    "set_faulted",
    "state_of",
    "step",
    "transition_event",
]
