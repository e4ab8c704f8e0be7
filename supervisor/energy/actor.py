"""AllocatorActor: runs the allocation at every change and every update interval, and applies it.

Applying keeps the invariant: first the decreases, each confirmed by its connector before
the ledger records it; then the station limit; then the increases, each granted by the
ledger before its connector is told. A connector whose inputs changed since they were read
waits for the next cycle (a control cycle later). Allocations are renewed before their
hold runs out; if this actor stops deciding, each connector falls to 0 A by itself.

A cycle costs a pass over every connector, so the quiet case is kept cheap: a connector
whose model is the one read last time (and whose car is not being watched) is not read
again, and once an allocation is settled (every connector told what it has, none holding
an allocation that needs renewing) the interval's re-allocation is skipped until an input
changes. A thousand idle connectors then cost an identity check each per cycle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from actors import derived
from actors.charging import ALLOCATION_HOLD_S
from actors.messages import ChaosKill, SetAllocation, Tick
from actors.model import Model
from supervisor.energy.allocation import Allocation, EvseAllocation, EvseInput, StationInput, allocate
from supervisor.energy.draw import DrawWatch
from supervisor.energy.inputs import EvseLink, evse_input, next_watch, watched
from supervisor.energy.state import EnergyState
from supervisor.tree import Lease, SupervisedActor

log = logging.getLogger(__name__)

ASK_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Recompute:
    """Allocate now (an ask: answered once the new allocation was applied)."""


Inputs = tuple[StationInput, tuple[EvseInput, ...]]


class AllocatorActor(SupervisedActor):
    def __init__(self, lease: Lease, energy: EnergyState) -> None:
        super().__init__(lease)
        self.energy = energy
        self._watches: dict[int, DrawWatch] = {}
        self._read_as: dict[int, tuple[Model, float | None, EvseInput]] = {}
        self._last_inputs: Inputs | None = None
        self._next_due_s = 0.0
        self._told = False  # whether this cycle told a connector anything
        self._settled = False  # the last applied allocation needs nothing more until an input changes

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Tick):
            self._cycle(force=False)
            return None
        if isinstance(message, Recompute):
            self._cycle(force=True)
            return True
        if isinstance(message, ChaosKill):
            raise RuntimeError("chaos_kill of the station's allocator")
        return super().on_receive(message)

    def _cycle(self, *, force: bool) -> None:
        now = self.energy.clock.monotonic()
        inputs = self._read(now)
        if not force and inputs == self._last_inputs and (self._settled or now < self._next_due_s):
            return
        self.lease.check()
        allocation = allocate(*inputs)
        self._settled = self._apply(allocation, inputs[1], now)
        self._last_inputs = inputs
        self._next_due_s = now + self.energy.grid.update_interval_s

    def _read(self, now: float) -> Inputs:
        ocpp_a = self.energy.ocpp_evse_a
        evses = tuple(self._read_one(link, ocpp_a.get(link.index), now) for link in self.energy.links)
        return self.energy.station_input(), evses

    def _read_one(self, link: EvseLink, ocpp_limit_a: float | None, now: float) -> EvseInput:
        """The connector's input; the one read last time while its model and OCPP limit are the
        same and no draw is watched (a watch changes with time alone)."""
        model = link.state.model
        cached = self._read_as.get(link.index)
        if cached is not None and cached[0] is model and cached[1] == ocpp_limit_a and not watched(model):
            return cached[2]
        watch = next_watch(link, self._watches.get(link.index, DrawWatch()), now)
        self._watches[link.index] = watch
        seen = evse_input(link, watch, ocpp_limit_a)
        self._read_as[link.index] = (model, ocpp_limit_a, seen)
        return seen

    # --- applying ----------------------------------------------------------------------------

    def _apply(self, allocation: Allocation, read: tuple[EvseInput, ...], now: float) -> bool:
        """Apply; True when it is settled: nothing was sent or refused, every connector was
        current, and none has an allocation that will need renewing."""
        self._told = False
        ledger = self.energy.ledger
        if _below(allocation.limit_a, ledger.limit_a):
            ledger.set_limit(allocation.limit_a)  # no raise fits until the decreases are done
        targets = allocation.by_index()
        current = [
            (link, seen) for link, seen in zip(self.energy.links, read, strict=True) if _same(link, seen)
        ]
        for link, _ in current:
            self._decrease(link, targets[link.index])
        ledger.set_limit(allocation.limit_a)
        self.energy.publish(allocation)
        refused = [link for link, _ in current if not self._increase(link, targets[link.index], now)]
        held = any(target.allocated_a for target in allocation.evses)
        return not (self._told or refused or held or len(current) < len(self.energy.links))

    def _decrease(self, link: EvseLink, target: EvseAllocation) -> None:
        amount_a = _amount(link, target)
        if amount_a >= self.energy.ledger.granted_a(link.index):
            return
        if self._tell(link, target.allocated_a):
            self.energy.ledger.lower_to(link.index, amount_a)

    def _increase(self, link: EvseLink, target: EvseAllocation, now: float) -> bool:
        """Raise to the target if the ledger grants it (True), else renew what it has (False)."""
        model = link.state.model
        target_a = target.allocated_a
        if self.energy.ledger.raise_to(link.index, _amount(link, target)):
            if self._needs_sending(model.allocation_a, model.allocation_until, target_a, now):
                self._tell(link, target_a)
            return True
        if model.allocation_a is not None and self._needs_sending(
            model.allocation_a, model.allocation_until, model.allocation_a, now
        ):
            self._tell(link, min(model.allocation_a, target_a or 0.0))  # renew what it has
        return False

    def _needs_sending(
        self, current_a: float | None, until: float | None, target_a: float | None, now: float
    ) -> bool:
        """A change, or a renewal of an allocation last renewed an update interval ago or more."""
        if current_a != target_a:
            return True
        renewed_before = ALLOCATION_HOLD_S - self.energy.grid.update_interval_s
        return bool(target_a) and (until is None or until - now <= renewed_before)

    def _tell(self, link: EvseLink, target_a: float | None) -> bool:
        self._told = True
        try:
            return link.ask_session(SetAllocation(target_a), ASK_TIMEOUT_S) is True
        except Exception as exc:  # noqa: BLE001 - a connector that cannot answer keeps what it has
            log.warning("evse %d: allocation %s A not applied: %r", link.index, target_a, exc)
            return False


def _same(link: EvseLink, seen: EvseInput) -> bool:
    """The connector's session is still the one the allocation was computed from."""
    model = link.state.model
    authorized_at = model.session.authorized_at if model.session is not None else 0.0
    return seen.authorized == derived.authorized(model) and seen.authorized_at == authorized_at


def _amount(link: EvseLink, target: EvseAllocation) -> float:
    """What the ledger counts: the allocation or the minimum held; without a limit, the maximum."""
    if target.allocated_a is None:
        return link.settings.max_current_a
    return max(target.allocated_a, target.held_a)


def _below(a: float | None, b: float | None) -> bool:
    """a < b, where None is no limit at all."""
    return a is not None and (b is None or a < b)
