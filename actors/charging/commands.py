"""The commands of the evse_manager interface on the charging state (reservations and
signed values aside, in `reservations`)."""

from __future__ import annotations

import math
from dataclasses import replace

from actors.charging.sessions import admitted, authorize_session, cancel, may_open_session, open_session
from actors.charging.step import (
    ALLOCATION_HOLD_S,
    Step,
    authorized_uncancelled,
    emit,
    open_session_uncancelled,
)
from actors.derived import allowed_current_a, state_of
from actors.messages import (
    AcceptNewSession,
    Authorize,
    CancelCharging,
    Disable,
    Enable,
    ForceUnlock,
    GiveUp,
    PauseCharging,
    ResumeCharging,
    SetAllocation,
    SetFaulted,
    SetLocalMaxCurrent,
)
from actors.model import (
    CANCEL_REASONS,
    BoardAnswer,
    EndReservation,
    Env,
    Error,
    LockAnswer,
    Model,
    Output,
    PreAuth,
    SessionEvent,
    State,
    Unlock,
)
from drivers.base import MIN_CURRENT_A


def enable(model: Model, command: Enable, env: Env) -> Step:
    if model.faulted:
        return Step(model, reply=False)
    if model.enabled:
        return Step(model, reply=True)
    model = replace(model, enabled=True)
    outputs: tuple[Output, ...] = (emit(model, SessionEvent.Enabled),)
    if may_open_session(model):
        opened = open_session(model, env)
        model, outputs = opened.model, outputs + opened.outputs
    return Step(model, outputs, True)


def disable(model: Model, command: Disable, env: Env) -> Step:
    if not model.enabled and not model.faulted:
        return Step(model, reply=True)
    outputs: list[Output] = []
    if open_session_uncancelled(model):
        cancelled = cancel(model, "Local")
        model, outputs = cancelled.model, list(cancelled.outputs)
    model = replace(model, enabled=False, faulted=False, pre_auth=None)
    outputs.append(emit(model, SessionEvent.Disabled))
    if env.reservation is not None:
        outputs.append(EndReservation("Cancelled"))
    return Step(model, tuple(outputs), BoardAnswer(ok=True, failed=False))


def set_faulted(model: Model, env: Env, error: Error | None = None) -> Step:
    """Faulted by an operator (`set_faulted`) or by the supervisor giving up (with an error)."""
    if model.faulted:
        return Step(model, reply=True)
    outputs: list[Output] = []
    if open_session_uncancelled(model):
        cancelled = cancel(model, "Other")
        model, outputs = cancelled.model, list(cancelled.outputs)
    model = replace(model, faulted=True, pre_auth=None)
    outputs.append(emit(model, SessionEvent.PermanentFault, error=error))
    if env.reservation is not None:
        outputs.append(EndReservation("Cancelled"))
    return Step(model, tuple(outputs), True)


def set_faulted_command(model: Model, command: SetFaulted, env: Env) -> Step:
    return set_faulted(model, env)


def give_up(model: Model, message: GiveUp, env: Env) -> Step:
    return set_faulted(model, env, Error.Internal)


def pause(model: Model, command: PauseCharging, env: Env) -> Step:
    session = authorized_uncancelled(model)
    if session is None:
        return Step(model, reply=False)
    return Step(replace(model, session=replace(session, user_paused=True)), reply=True)


def resume(model: Model, command: ResumeCharging, env: Env) -> Step:
    session = authorized_uncancelled(model)
    if session is None or not session.user_paused or allowed_current_a(model, env) < MIN_CURRENT_A:
        return Step(model, reply=False)
    return Step(replace(model, session=replace(session, user_paused=False)), reply=True)


def cancel_charging(model: Model, command: CancelCharging, env: Env) -> Step:
    if command.reason not in CANCEL_REASONS:
        raise ValueError(f"reason must be one of {sorted(CANCEL_REASONS)}, got {command.reason!r}")
    if not open_session_uncancelled(model):
        return Step(model, reply=False)
    cancelled = cancel(model, command.reason)
    return replace(cancelled, reply=True)


def accept_new_session(model: Model, command: AcceptNewSession, env: Env) -> Step:
    state = state_of(model, env)
    if state is State.Idle:
        return Step(model, reply=True)
    if state is not State.Finished:
        return Step(model, reply=False)
    model = replace(model, finished=False)
    if may_open_session(model):
        opened = open_session(model, env)
        return replace(opened, reply=True)
    return Step(model, reply=True)


def authorize(model: Model, command: Authorize, env: Env) -> Step:
    state = state_of(model, env)
    if state in (State.Disabled, State.Faulted, State.Error):
        return Step(model, reply=False)
    session = model.session
    if session is not None and (session.cancelled or session.authorized):
        return Step(model, reply=not session.cancelled and session.token == command.auth_token)
    if not admitted(env.reservation, command.auth_token, command.parent_id):
        return Step(model, (emit(model, SessionEvent.ReservationAuthtokenMismatch),), False)
    if session is None:
        pre_auth = PreAuth(command.auth_token, command.parent_id, env.now + env.settings.auth_timeout_s)
        return Step(replace(model, pre_auth=pre_auth), reply=True)
    return authorize_session(model, env, command.auth_token, command.parent_id)


def set_local_max_current(model: Model, command: SetLocalMaxCurrent, env: Env) -> Step:
    current_a = command.max_current
    if math.isnan(current_a) or not 0.0 <= current_a <= env.settings.max_current_a:
        return Step(model, reply="Error_OutOfRange")
    answer = BoardAnswer(ok="Success", failed="Error_Hardware")
    return Step(replace(model, local_limit_a=float(current_a)), reply=answer)


def set_allocation(model: Model, command: SetAllocation, env: Env) -> Step:
    """The station's allocation, held for ALLOCATION_HOLD_S; only an authorized session gets current."""
    current_a = command.current_a
    confirmed = BoardAnswer(ok=True, failed=False)  # a decrease counts once the board applied it
    if current_a is None:
        return Step(replace(model, allocation_a=None, allocation_until=None), reply=confirmed)
    if math.isnan(current_a) or current_a < 0:
        raise ValueError(f"an allocation must be a number of amperes >= 0, got {current_a!r}")
    if authorized_uncancelled(model) is None:
        current_a = 0.0
    until = env.now + ALLOCATION_HOLD_S
    return Step(replace(model, allocation_a=float(current_a), allocation_until=until), reply=confirmed)


def force_unlock(model: Model, command: ForceUnlock, env: Env) -> Step:
    if not env.settings.lock:
        return Step(model, reply=False)
    if not open_session_uncancelled(model):
        return Step(model, (Unlock(),), LockAnswer())
    cancelled = cancel(model, "UnlockCommand")
    return Step(cancelled.model, (*cancelled.outputs, Unlock()), LockAnswer())
