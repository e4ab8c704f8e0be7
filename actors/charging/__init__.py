"""The charging state machine of one connector: a table of handlers and a small step function.

`step(model, message, env)` returns the next model, the ordered outputs (session events
to publish, reservation and lock operations) and the reply to a command. The handlers live
by concept: what a step is (`step`), sessions (`sessions`), the board and the clock
(`board`), the commands (`commands`), reservations and signed values (`reservations`),
phase switching (`phases`). What the model means (its state, the board output, the
board's errors) is in `actors.derived`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from actors.charging import board, commands, phases, reservations
from actors.charging.board import OVERDRAW_FACTOR, OVERDRAW_LIMIT_S
from actors.charging.commands import set_faulted
from actors.charging.step import ALLOCATION_HOLD_S, Step, emit
from actors.derived import allowed_current_a, board_errors, hardware_output, state_of, transition_event
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
from actors.model import Env, Model, State

Handler = Callable[[Model, Any, Env], Step]

TRANSITIONS: dict[type, Handler] = {
    BoardReport: board.on_board_message,
    Tick: board.on_tick,
    Enable: commands.enable,
    Disable: commands.disable,
    SetFaulted: commands.set_faulted_command,
    GiveUp: commands.give_up,
    PauseCharging: commands.pause,
    ResumeCharging: commands.resume,
    CancelCharging: commands.cancel_charging,
    AcceptNewSession: commands.accept_new_session,
    Authorize: commands.authorize,
    SetLocalMaxCurrent: commands.set_local_max_current,
    SetAllocation: commands.set_allocation,
    ForceUnlock: commands.force_unlock,
    SwitchThreePhases: phases.switch_three_phases,
    PhasesSwitched: phases.phases_switched,
    ReserveNow: reservations.reserve_now,
    CancelReservation: reservations.cancel_reservation,
    GetSignedMeterValue: reservations.get_signed_meter_value,
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
    return replace(result, outputs=(*result.outputs, emit(result.model, event)))


__all__ = [
    "ALLOCATION_HOLD_S",
    "OVERDRAW_FACTOR",
    "OVERDRAW_LIMIT_S",
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
