"""The station's energy management: its state, and the allocator under a supervisor of its own.

The allocator is the one child of a one_for_one supervisor; a crash restarts it with the
station's intensity and backoff, while every connector holds its last allocation (and
falls to 0 A by itself if no allocator renews it within the hold).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import pykka

from actors.messages import Tick
from actors.settings import ConnectorSettings
from drivers.clock import Clock
from supervisor.energy.actor import AllocatorActor, Recompute
from supervisor.energy.inputs import EvseLink
from supervisor.energy.settings import GridSettings
from supervisor.energy.state import EnergyState, Publish
from supervisor.energy.store import LimitStore
from supervisor.tree import ChildSpec, Lease, SupervisionEvent, SupervisionSettings, Supervisor, Unavailable

ROLE = "allocator"
MIN_PING_TIMEOUT_S = 5.0  # a cycle may wait on a connector's session actor for a second or two


class EnergyManager:
    def __init__(
        self,
        grid: GridSettings,
        connectors: Sequence[ConnectorSettings],
        store: LimitStore,
        clock: Clock,
        publish: Publish,
        limits: SupervisionSettings,
        on_event: Callable[[SupervisionEvent], None] | None = None,
    ) -> None:
        self.state = EnergyState(grid, connectors, store, clock, publish)
        self.ledger = self.state.ledger
        limits = dataclasses.replace(limits, ping_timeout_s=max(limits.ping_timeout_s, MIN_PING_TIMEOUT_S))
        self.tree = Supervisor(
            "energy", [ChildSpec(ROLE, self._start_allocator)], limits=limits, clock=clock, on_event=on_event
        )

    def _start_allocator(self, lease: Lease) -> pykka.ActorRef[Any]:
        return AllocatorActor.start(lease, self.state)

    @property
    def limited(self) -> bool:
        return self.state.limited

    def attach(self, links: Sequence[EvseLink]) -> None:
        self.state.attach(links)

    def start(self) -> None:
        self.tree.start()

    def stop(self) -> None:
        self.tree.stop()

    def tick(self) -> None:
        """A control cycle: the allocator decides if anything changed or its interval is due."""
        with contextlib.suppress(Unavailable, pykka.ActorDeadError):
            self.tree.ref(ROLE).tell(Tick())

    def recompute(self, timeout_s: float) -> bool:
        """Allocate now and return once the allocation was applied."""
        return bool(self.tree.ask(ROLE, Recompute(), timeout_s))

    def set_station_max_current(self, max_current_a: float, timeout_s: float) -> bool:
        """The operator's station limit: kept, then applied (decreases first) before this returns."""
        if max_current_a < 0:
            raise ValueError(f"max_current must be a number >= 0, got {max_current_a}")
        self.state.set_operator_limit(float(max_current_a))
        return self.recompute(timeout_s)

    def set_ocpp_limits(self, station_a: float | None, evse_a: dict[int, float], timeout_s: float) -> bool:
        """OCPP's station limit and connector schedules (A per phase): applied before this returns
        when they changed (True); unchanged, a control cycle (the bridge calls this every second,
        so a session that starts under a schedule meets it within one)."""
        if not self.state.set_ocpp_limits(station_a, evse_a):
            self.tick()
            return True
        return self.recompute(timeout_s)

    def status(self) -> dict[str, Any]:
        return self.state.status()
