"""Recovery after a restart of the station: the journal's state reconciled with the board (pure).

The table of spec/durability.md: an open session is taken up when the same car is still
plugged (same plug counter where the board counts), as after a pause, so that the car
drawing again publishes ChargingResumed; it is finished (SessionFinished, same uuid) when
the car left, and finished then followed by a new session when another car is there.
Reservations, pre-authorizations, Disabled and Faulted need nothing here: their expiry is
wall-clock time and the model keeps the rest.
"""

from __future__ import annotations

from dataclasses import replace

from actors import charging
from actors.messages import BoardReport
from actors.model import Env, Model
from drivers.base import BoardStatus, CPState


def reconcile(
    model: Model, status: BoardStatus, plug_count_before: int | None, env: Env
) -> tuple[charging.Step, str]:
    """The step that takes the journal's `model` up on the board's first answer, and what it did in words."""
    session = model.session
    if session is None:
        return charging.step(model, BoardReport(status), env), _idle_reason(model)
    paused = replace(model, cp=CPState.B) if model.cp in (CPState.C, CPState.D) else model
    another_car = (
        status.plugged
        and status.plug_count is not None
        and plug_count_before is not None
        and status.plug_count != plug_count_before
    )
    if not status.plugged:
        return charging.step(
            paused, BoardReport(status), env
        ), f"session {session.uuid} finished: the car left"
    if another_car:
        gone = replace(status, plugged=False, cp=CPState.A, currents_a=(0.0, 0.0, 0.0))
        closed = charging.step(paused, BoardReport(gone), env)
        opened = charging.step(closed.model, BoardReport(status), env)
        step = charging.Step(opened.model, closed.outputs + opened.outputs)
        return step, f"session {session.uuid} finished: another car is plugged in"
    return charging.step(paused, BoardReport(status), env), f"session {session.uuid} taken up"


def _idle_reason(model: Model) -> str:
    if model.faulted:
        return "Faulted kept"
    if not model.enabled:
        return "Disabled kept"
    return "no open session"
