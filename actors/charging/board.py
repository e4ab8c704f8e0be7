"""What the board reports (a car plugged or gone, its errors, the currents: the 7 s
over-current rule), and the clock's ticks."""

from __future__ import annotations

from dataclasses import replace

from actors.charging.sessions import close_session, may_open_session, open_session
from actors.charging.step import Step, emit
from actors.derived import allocation_expired, allowed_current_a, board_errors, state_of
from actors.messages import BoardReport, Tick
from actors.model import Env, Error, Model, Output, SessionEvent, State

OVERDRAW_FACTOR = 1.1
OVERDRAW_LIMIT_S = 7.0


def on_board(model: Model, report: BoardReport, env: Env) -> Step:
    status = report.status
    outputs: list[Output] = []
    if model.plugged and not status.plugged and model.session is not None:
        closed = close_session(model, env)
        model, outputs = closed.model, list(closed.outputs)
    errors = board_errors(model, report)
    for error in sorted(errors - model.errors):
        outputs.append(emit(model, SessionEvent.Error, error=error))
    model = replace(model, plugged=status.plugged, cp=status.cp, errors=errors)
    if not status.plugged:
        model = replace(model, overdraw_since=None)
    model, overdraw = _check_overdraw(model, status.currents_a, env)
    outputs.extend(overdraw)
    if may_open_session(model):
        opened = open_session(model, env)
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
        emit(model, SessionEvent.Error, error=Error.OverCurrent)
    ]


def on_tick(model: Model, tick: Tick, env: Env) -> Step:
    if model.pre_auth is not None and model.pre_auth.expires_at <= env.now:
        model = replace(model, pre_auth=None)
    if allocation_expired(model, env.now):  # the allocator is gone: safe at 0 A
        model = replace(model, allocation_a=0.0, allocation_until=None)
    if model.overdraw_since is None:
        return Step(model)
    model, outputs = _check_overdraw(model, model.last_currents_a, env)
    return Step(model, tuple(outputs))


def on_board_message(model: Model, message: BoardReport, env: Env) -> Step:
    return on_board(model, message, env)
