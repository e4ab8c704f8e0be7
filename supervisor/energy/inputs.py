"""What the allocation reads of each connector: its settings and its state, never its actors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors import derived
from actors.connector_state import ConnectorState
from actors.model import Env, Model, State
from actors.settings import ConnectorSettings
from supervisor.energy.allocation import EvseInput
from supervisor.energy.draw import DrawWatch, watch
from supervisor.energy.settings import grid_phases

AskSession = Callable[[object, float], Any]


@dataclass(frozen=True)
class EvseLink:
    """One connector as the allocator reaches it: read its state, ask its session actor."""

    settings: ConnectorSettings
    state: ConnectorState
    ask_session: AskSession
    grid_phases: tuple[str, ...]

    @classmethod
    def of(
        cls, settings: ConnectorSettings, state: ConnectorState, ask: AskSession, grid_phase_count: int
    ) -> EvseLink:
        phases = grid_phases(settings.phase_rotation, settings.phases, grid_phase_count)
        return cls(settings, state, ask, phases)

    @property
    def index(self) -> int:
        return self.settings.index


def evse_input(link: EvseLink, draw: DrawWatch, ocpp_limit_a: float | None = None) -> EvseInput:
    """The connector's demand now: its session, its own limits (the OCPP schedule's among them),
    the cap of a car that draws less."""
    model = link.state.model
    session = model.session
    authorized = derived.authorized(model)
    pending = model.pre_auth is not None if session is None else not session.cancelled
    return EvseInput(
        index=link.index,
        phases=link.grid_phases,
        authorized=authorized,
        waiting=not authorized and pending and model.enabled and not model.faulted,
        authorized_at=session.authorized_at if session is not None else 0.0,
        max_current_a=link.settings.max_current_a,
        local_limit_a=model.local_limit_a,
        ocpp_limit_a=ocpp_limit_a,
        draw_cap_a=draw.cap_a,
    )


def watched(model: Model) -> bool:
    """Its car's draw is watched: an authorized session offered current (else the watch is reset)."""
    return model.allocation_a is not None and model.allocation_a > 0 and derived.authorized(model)


def next_watch(link: EvseLink, previous: DrawWatch, now: float) -> DrawWatch:
    """The draw watch after the connector's latest board reading (reset outside a session)."""
    model = link.state.model
    offered_a = model.allocation_a
    if offered_a is None or not watched(model):
        return DrawWatch()
    env = Env(link.settings, link.state.reservation, now, _no_uuid, 0.0)
    drawing = derived.state_of(model, env) is State.Charging
    drawn_a = max(model.last_currents_a, default=0.0) if drawing else 0.0
    return watch(previous, offered_a, drawn_a, now)


def _no_uuid() -> str:
    raise AssertionError("reading a connector's state makes no session")
