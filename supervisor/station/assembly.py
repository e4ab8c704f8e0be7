"""How one connector is put together: its simulator, its state, its actors and their supervisor.

`assemble` builds the parts (the devices its settings name, the `ConnectorState` that
outlives the actors, the context the actors share); `supervise` puts the four actors under the
connector's supervisor, rest_for_one in `ROLES` order. A `Team` is one generation of the
actors without a supervisor, on a fixed roster: the tests drive a connector with it, and
a given-up connector has its last word through it. The station and the tests build
connectors here alone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from actors.base import ConnectorActor, ConnectorContext
from actors.connector_state import ConnectorState
from actors.hardware import HardwareActor
from actors.meter import MeterActor
from actors.ports import Budget, Journal, NoTimer, Publisher, Timer
from actors.reservation import ReservationActor
from actors.session import SessionActor
from actors.settings import ConnectorSettings
from drivers.clock import Clock
from supervisor.station.drivers import Devices, Simulation, build_devices
from supervisor.tree import (
    ChildSpec,
    Lease,
    Ping,
    SupervisionEvent,
    SupervisionSettings,
    Supervisor,
    Unavailable,
)

log = logging.getLogger(__name__)

ROLES: tuple[tuple[str, type[ConnectorActor]], ...] = (
    ("hardware", HardwareActor),
    ("meter", MeterActor),
    ("reservation", ReservationActor),
    ("session", SessionActor),
)
START_TIMEOUT_S = 5.0  # for a team's actor to be past its on_start
STOP_TIMEOUT_S = 2.0


class TreePeers:
    """`Peers` over the connector's supervisor: every call reaches the current generation."""

    def __init__(self) -> None:
        self.tree: Supervisor | None = None

    def ask(self, role: str, message: object, timeout_s: float) -> Any:
        """Ask the running generation; Unavailable at once while that role restarts or once it hangs.

        Actors ask only roles started before them, which restart together with them
        (rest_for_one), so there is nothing worth waiting for inside a handler.
        """
        assert self.tree is not None
        return self.tree.ask_running(role, message, timeout_s)

    def tell(self, role: str, message: object) -> None:
        assert self.tree is not None
        # A message reaches a generation still starting; to an actor that is down it is
        # dropped: a restarted actor reconciles on start.
        self.tree.tell(role, message)


IN_PROCESS = Simulation()  # simulated hardware in this process, new meter keys


@dataclass(frozen=True)
class Parts:
    """One connector's devices (its drivers, the simulated car's controls), its state and the
    context its actors share."""

    plant: Devices
    state: ConnectorState
    ctx: ConnectorContext
    peers: TreePeers


def assemble(
    settings: ConnectorSettings,
    publisher: Publisher,
    clock: Clock,
    *,
    device_loss_s: float,
    simulation: Simulation = IN_PROCESS,
    journal: Journal | None = None,
    on_recovered: Callable[[str], None] | None = None,
    budget: Budget | None = None,
    timer: Timer | None = None,
) -> Parts:
    plant = build_devices(settings, clock, device_loss_s=device_loss_s, simulation=simulation)
    state = ConnectorState(settings, publisher, journal, on_recovered)
    peers = TreePeers()
    ctx = ConnectorContext(
        settings, plant.board, plant.meter, clock, state, peers, budget, timer or NoTimer()
    )
    return Parts(plant, state, ctx, peers)


def supervise(
    parts: Parts,
    limits: SupervisionSettings,
    on_event: Callable[[SupervisionEvent], None],
    on_give_up: Callable[[str], None],
) -> Supervisor:
    """The connector's supervisor over its four actors; its peers reach them through it."""
    ctx = parts.ctx

    def starter(actor_class: type[ConnectorActor]) -> Callable[[Lease], pykka.ActorRef[Any]]:
        return lambda lease: actor_class.start(ctx, lease)

    tree = Supervisor(
        f"evse/{ctx.settings.index}",
        [ChildSpec(role, starter(actor_class)) for role, actor_class in ROLES],
        strategy="rest_for_one",
        limits=limits,
        clock=ctx.clock,
        on_event=on_event,
        on_give_up=on_give_up,
    )
    parts.peers.tree = tree
    return tree


class Team:
    """One generation of some of the actors (all four by default), on a fixed roster that is
    their `Peers`; no supervisor restarts them. An ask to a role not on the team is Unavailable.

    `stop` stops them in reverse order and revokes their leases, so nothing they left
    running changes the connector afterwards.
    """

    def __init__(
        self,
        ctx: ConnectorContext,
        roles: tuple[tuple[str, type[ConnectorActor]], ...] = ROLES,
        generation: int = 1,
    ) -> None:
        self.ctx = dataclasses.replace(ctx, peers=self)
        self.roles = roles
        self.generation = generation
        self.refs: dict[str, pykka.ActorRef[Any]] = {}
        self.leases: dict[str, Lease] = {}

    def start(self) -> None:
        """Start the actors in order, each past its `on_start`; raises when one fails to start."""
        for role, actor_class in self.roles:
            lease = Lease(role, self.generation)
            self.leases[role] = lease
            self.refs[role] = actor_class.start(self.ctx, lease)
            self.ask(role, Ping(), START_TIMEOUT_S)

    def ask(self, role: str, message: object, timeout_s: float) -> Any:
        ref = self.refs.get(role)
        if ref is None:
            raise Unavailable(f"evse {self.ctx.settings.index} has no {role} actor on this team")
        return ref.ask(message, timeout=timeout_s)

    def tell(self, role: str, message: object) -> None:
        ref = self.refs.get(role)
        if ref is not None and ref.is_alive():
            ref.tell(message)

    def stop(self) -> None:
        for role, _ in reversed(self.roles):
            ref = self.refs.get(role)
            if ref is not None and ref.is_alive():
                try:
                    ref.stop(timeout=STOP_TIMEOUT_S)
                except pykka.Timeout:
                    log.warning(
                        "evse %d %s actor did not stop in time: fenced", self.ctx.settings.index, role
                    )
        for lease in self.leases.values():
            lease.revoke()
