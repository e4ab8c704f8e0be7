"""The station's energy state that outlives the allocator: its sources, the ledger, the last allocation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from actors.settings import ConnectorSettings
from drivers.clock import Clock
from supervisor.energy.allocation import Allocation, StationInput, allocate
from supervisor.energy.draw import DrawWatch
from supervisor.energy.inputs import EvseLink, evse_input
from supervisor.energy.ledger import Ledger
from supervisor.energy.settings import GridSettings, grid_phases
from supervisor.energy.store import LimitStore

Publish = Callable[[dict[str, Any]], None]


class EnergyState:
    def __init__(
        self,
        grid: GridSettings,
        connectors: Sequence[ConnectorSettings],
        store: LimitStore,
        clock: Clock,
        publish: Publish,
    ) -> None:
        self.grid = grid
        self.clock = clock
        self.links: tuple[EvseLink, ...] = ()
        self._store = store
        self._publish = publish
        self._lock = threading.Lock()
        self.operator_a = store.load()
        self.ocpp_a: float | None = None  # ChargePointMaxProfile, once OCPP sets it
        self.ocpp_evse_a: dict[int, float] = {}  # each connector's OCPP schedule, once OCPP sets one
        phases = {c.index: grid_phases(c.phase_rotation, c.phases, grid.phases) for c in connectors}
        self.ledger = Ledger(phases, self.station_input().limit_a)
        if not self.limited:  # without a limit each connector may offer its maximum
            for connector in connectors:
                self.ledger.raise_to(connector.index, connector.max_current_a)
        self._published: dict[str, Any] | None = None

    def attach(self, links: Sequence[EvseLink]) -> None:
        """The connectors, once built (their settings as given to the constructor)."""
        self.links = tuple(links)

    def station_input(self) -> StationInput:
        phases = ("L1", "L2", "L3") if self.grid.phases == 3 else ("L1",)
        return StationInput(self.grid.max_current_a, self.operator_a, self.ocpp_a, phases)

    @property
    def limited(self) -> bool:
        """The station has a limit now (the connectors start at 0 A until allocated)."""
        return self.station_input().limit_a is not None

    def set_operator_limit(self, max_current_a: float) -> None:
        """Keep the operator's limit (durable before it takes effect)."""
        self._store.save(max_current_a)
        with self._lock:
            self.operator_a = max_current_a

    def set_ocpp_limits(self, station_a: float | None, evse_a: dict[int, float]) -> bool:
        """OCPP's inputs (spec/ocpp.md): the station limit of ChargePointMaxProfile and each
        connector's schedule, kept apart from every other source; True when they changed."""
        with self._lock:
            changed = (station_a, evse_a) != (self.ocpp_a, self.ocpp_evse_a)
            self.ocpp_a, self.ocpp_evse_a = station_a, dict(evse_a)
        return changed

    def publish(self, allocation: Allocation) -> None:
        """Publish `station/energy` when it changed and the ledger fits under its limit."""
        value = allocation.to_wire()
        sums = self.ledger.sums_a()
        limit_a = allocation.limit_a
        if limit_a is not None and any(total > limit_a + 1e-6 for total in sums.values()):
            return  # a decrease is still unconfirmed: the next cycle publishes
        with self._lock:
            if value == self._published:
                return
            self._published = value
        self._publish(value)

    def status(self) -> dict[str, Any]:
        """The `energy` section of `status`: the last allocation published, or what it would be."""
        with self._lock:
            if self._published is not None:
                return self._published
        evses = [evse_input(link, DrawWatch(), self.ocpp_evse_a.get(link.index)) for link in self.links]
        return allocate(self.station_input(), evses).to_wire()
