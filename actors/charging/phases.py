"""Phase switching: one switch at a time, answered when it ended; back to the configured
phases outside a session."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from actors.charging.step import Step, authorized_uncancelled
from actors.messages import PhasesSwitched, SwitchThreePhases
from actors.model import Env, Model, Pending, PhaseSwitch


def switch_three_phases(model: Model, command: SwitchThreePhases, env: Env) -> Step:
    """Answered when the switch ended; one switch at a time, the next command waits for it."""
    if not env.settings.phase_switching:
        return Step(model, reply="Error_NotSupported")
    if authorized_uncancelled(model) is None:
        return Step(model, reply="Error_NotCharging")
    if model.switching_to is not None:
        return Step(model, reply=Pending.AFTER_SWITCH)
    if model.three_phases == command.three_phases:
        return Step(model, reply="Success")
    return _begin_switch(model, command.three_phases, Pending.SWITCH_RESULT)


def _begin_switch(model: Model, three_phases: bool, reply: Any = None) -> Step:
    return Step(replace(model, switching_to=three_phases), (PhaseSwitch(three_phases),), reply)


def phases_switched(model: Model, message: PhasesSwitched, env: Env) -> Step:
    """A switch ended: the board's mode now; without a session, back to the configured phases."""
    model = replace(model, three_phases=message.three_phases, switching_to=None)
    return replace(to_configured_phases(model, env), reply=message.result)


def to_configured_phases(model: Model, env: Env) -> Step:
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
