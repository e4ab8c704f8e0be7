"""Sessions: opened when a car is present, authorized (a reservation admits its tokens),
closed when the car leaves, cancelled with a reason."""

from __future__ import annotations

from dataclasses import replace

from actors.charging.phases import to_configured_phases
from actors.charging.step import ALLOCATION_HOLD_S, Step, emit
from actors.derived import TRANSITION_EVENTS, state_of
from actors.model import EndReservation, Env, Model, Output, Reservation, Session, SessionEvent
from drivers.base import MIN_CURRENT_A


def admitted(reservation: Reservation | None, token: str, parent_id: str | None) -> bool:
    """A reservation admits its own token, or any token with the reservation's parent id."""
    if reservation is None:
        return True
    return token == reservation.auth_token or (parent_id is not None and parent_id == reservation.parent_id)


def authorize_session(model: Model, env: Env, token: str | None, parent_id: str | None) -> Step:
    assert model.session is not None
    session = replace(
        model.session, authorized=True, token=token, parent_id=parent_id, authorized_at=env.time
    )
    outputs: list[Output] = []
    if env.reservation is not None:
        outputs.append(EndReservation("UsedToStartCharging"))
    model = _admitted_now(replace(model, session=session), env)
    outputs.append(emit(model, SessionEvent.ChargingStarted))
    follow_up = TRANSITION_EVENTS.get(state_of(model, env))
    if follow_up is not None:
        outputs.append(emit(model, follow_up))
    return Step(model, tuple(outputs), True)


def _admitted_now(model: Model, env: Env) -> Model:
    """A session authorized with the minimum claimed for it charges at once: no budget pause first."""
    allocation_a = model.allocation_a
    if allocation_a is None or allocation_a >= MIN_CURRENT_A or env.admission_a < MIN_CURRENT_A:
        return model
    return replace(model, allocation_a=env.admission_a, allocation_until=env.now + ALLOCATION_HOLD_S)


def open_session(model: Model, env: Env) -> Step:
    """A car is present on an available connector: SessionStarted, then authorization."""
    reservation_id = env.reservation.reservation_id if env.reservation else None
    session = Session(uuid=env.new_uuid(), reservation_id=reservation_id)
    model = replace(model, session=session, finished=False)
    pre_auth, model = model.pre_auth, replace(model, pre_auth=None)
    if (
        pre_auth is not None
        and pre_auth.expires_at > env.now
        and admitted(env.reservation, *pre_auth.credentials)
    ):
        return _started(authorize_session(model, env, *pre_auth.credentials), reservation_id)
    if env.settings.free_charging and env.reservation is None:
        return _started(authorize_session(model, env, None, None), reservation_id)
    started = emit(model, SessionEvent.SessionStarted, reservation_id=reservation_id)
    return Step(model, (started, emit(model, SessionEvent.AuthRequired)))


def _started(authorized: Step, reservation_id: int | None) -> Step:
    """A session authorized as it opens: SessionStarted first, naming that authorization."""
    started = emit(authorized.model, SessionEvent.SessionStarted, reservation_id=reservation_id)
    return Step(authorized.model, (started, *authorized.outputs))


def may_open_session(model: Model) -> bool:
    return (
        model.plugged
        and model.session is None
        and model.enabled
        and not model.faulted
        and not model.errors
        and not model.finished
    )


def close_session(model: Model, env: Env) -> Step:
    """The car left: SessionFinished, and the connector returns to its configured phases."""
    finished = emit(model, SessionEvent.SessionFinished)
    model = replace(model, session=None, finished=env.settings.require_accept_new_session)
    if model.allocation_a is not None:  # a connector without a session is allocated nothing
        model = replace(model, allocation_a=0.0, allocation_until=None)
    configured = to_configured_phases(model, env)
    return Step(configured.model, (finished, *configured.outputs))


def cancel(model: Model, reason: str) -> Step:
    assert model.session is not None
    session = replace(model.session, cancelled=True)
    return Step(replace(model, session=session), (emit(model, SessionEvent.SessionCancelled, reason=reason),))
