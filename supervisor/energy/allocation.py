"""The station's allocation of its grid connection: a pure function of the inputs.

    allocate(station, evses) -> Allocation

Admission is greedy in authorization order: each authorized session in turn gets the
6 A minimum on each of its grid phases if that is still free, else 0. Then each car that
waits for its authorization (plugged in, or pre-authorized) has the minimum held for it
if it is still free, so that it starts at once when authorized. What is left is
shared max-min fair among the admitted sessions (progressive filling: every unfrozen
session rises by the same amount until it meets its own cap or one of its phases is
full). Limits are rounded down to 0.1 A, so the sum on a phase never exceeds the limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MIN_CURRENT_A = 6.0  # IEC 61851-1: the least current a PWM may offer
STEP_A = 0.1  # limits are rounded to this
GRID_PHASES = ("L1", "L2", "L3")
_EPSILON_A = 1e-9

# What bound a connector's allocation (the `reason` of the status' energy section)
FAIR_SHARE = "fair share"
CAR_DRAWS_LESS = "car draws less"
CONNECTOR_MAXIMUM = "connector maximum"
LOCAL_LIMIT = "local limit"
OCPP_SCHEDULE = "ocpp schedule"
MINIMUM_NOT_AVAILABLE = "minimum not available"
NO_SESSION = "no authorized session"
WAITING = "waiting for authorization"
NO_STATION_LIMIT = "no station limit"


@dataclass(frozen=True)
class StationInput:
    """The station limit's sources (None: that source sets no limit) and the grid's phases."""

    fuse_a: float | None = None  # station.grid.max_current_a
    operator_a: float | None = None  # set_station_max_current
    ocpp_a: float | None = None  # ChargePointMaxProfile
    phases: tuple[str, ...] = GRID_PHASES

    @property
    def limit_a(self) -> float | None:
        """The station limit per phase: the lowest of its sources."""
        given = [a for a in (self.fuse_a, self.operator_a, self.ocpp_a) if a is not None]
        return min(given) if given else None

    def sources(self) -> dict[str, float | None]:
        return {"fuse": self.fuse_a, "operator": self.operator_a, "ocpp": self.ocpp_a}


@dataclass(frozen=True)
class EvseInput:
    """One connector as the allocation sees it."""

    index: int
    phases: tuple[str, ...]  # the grid phases its lines are on
    authorized: bool = False
    authorized_at: float = 0.0  # admission order: earlier first, then by index
    waiting: bool = False  # not authorized yet, but may be at any moment (plugged in, pre-authorized)
    max_current_a: float = 32.0
    local_limit_a: float | None = None
    ocpp_limit_a: float | None = None
    draw_cap_a: float | None = None  # what its car draws plus headroom, when it draws less

    def caps(self) -> dict[str, float]:
        """Its own limits by the reason they give, tightest first on ties in this order."""
        caps = {CONNECTOR_MAXIMUM: self.max_current_a}
        for reason, cap in (
            (LOCAL_LIMIT, self.local_limit_a),
            (OCPP_SCHEDULE, self.ocpp_limit_a),
            (CAR_DRAWS_LESS, self.draw_cap_a),
        ):
            if cap is not None:
                caps[reason] = cap
        return caps


@dataclass(frozen=True)
class EvseAllocation:
    index: int
    allocated_a: float | None  # None: no station limit binds this connector
    phases: tuple[str, ...]
    reason: str
    held_a: float = 0.0  # the minimum held for a car waiting for its authorization

    def to_wire(self) -> dict[str, object]:
        return {
            "index": self.index,
            "allocated_a": self.allocated_a,
            "phases": list(self.phases),
            "reason": self.reason,
            "held_a": self.held_a,
        }


@dataclass(frozen=True)
class Allocation:
    limit_a: float | None
    evses: tuple[EvseAllocation, ...]
    sources: Mapping[str, float | None] = field(default_factory=dict)

    def by_index(self) -> dict[int, EvseAllocation]:
        return {e.index: e for e in self.evses}

    def phase_sums_a(self, phases: Sequence[str] = GRID_PHASES) -> dict[str, float]:
        sums = dict.fromkeys(phases, 0.0)
        for evse in self.evses:
            for phase in evse.phases:
                sums[phase] = sums.get(phase, 0.0) + (evse.allocated_a or 0.0)
        return {phase: round(total, 1) for phase, total in sums.items()}

    def to_wire(self) -> dict[str, object]:
        """The `energy` section of `status` (and the `station/energy` publication)."""
        return {
            "grid_max_current_a": self.limit_a,
            "sources": dict(self.sources),
            "phases": {p: {"allocated_a": a} for p, a in self.phase_sums_a().items()},
            "evses": [e.to_wire() for e in self.evses],
        }


def allocate(station: StationInput, evses: Sequence[EvseInput]) -> Allocation:
    """Each connector's limit under the station limit; see the module docstring."""
    limit_a = station.limit_a
    if limit_a is None:
        return Allocation(None, tuple(_unbound(e) for e in evses), station.sources())
    free_a = dict.fromkeys(station.phases, limit_a)
    admitted, results = _admit(evses, free_a)
    shares = _fill(admitted, free_a)
    for evse in admitted:
        reason, amount_a = shares[evse.index]
        results[evse.index] = EvseAllocation(evse.index, _round_down(amount_a), evse.phases, reason)
    ordered = tuple(results[e.index] for e in evses)
    return Allocation(limit_a, ordered, station.sources())


def _unbound(evse: EvseInput) -> EvseAllocation:
    """Without a station limit only an OCPP schedule below the connector's own limits binds it
    (an authorized session's; a connector without one is allocated nothing anyway)."""
    reason, cap_a = _tightest(evse)
    if not evse.authorized or reason != OCPP_SCHEDULE:
        return EvseAllocation(evse.index, None, evse.phases, NO_STATION_LIMIT)
    amount_a = _round_down(cap_a) if cap_a >= MIN_CURRENT_A - _EPSILON_A else 0.0
    return EvseAllocation(evse.index, amount_a, evse.phases, OCPP_SCHEDULE)


def _admit(
    evses: Sequence[EvseInput], free_a: dict[str, float]
) -> tuple[list[EvseInput], dict[int, EvseAllocation]]:
    """Greedy admission in authorization order: the minimum on every phase, or nothing."""
    admitted: list[EvseInput] = []
    results: dict[int, EvseAllocation] = {}
    sessions = sorted((e for e in evses if e.authorized), key=lambda e: (e.authorized_at, e.index))
    for evse in sessions:
        cap_reason, cap_a = _tightest(evse)
        if cap_a < MIN_CURRENT_A - _EPSILON_A:
            results[evse.index] = EvseAllocation(evse.index, 0.0, evse.phases, cap_reason)
        elif _take_minimum(evse, free_a):
            admitted.append(evse)
        else:
            results[evse.index] = EvseAllocation(evse.index, 0.0, evse.phases, MINIMUM_NOT_AVAILABLE)
    for evse in (e for e in evses if not e.authorized):
        held_a = MIN_CURRENT_A if evse.waiting and _take_minimum(evse, free_a) else 0.0
        reason = WAITING if evse.waiting else NO_SESSION
        results[evse.index] = EvseAllocation(evse.index, 0.0, evse.phases, reason, held_a)
    return admitted, results


def _take_minimum(evse: EvseInput, free_a: dict[str, float]) -> bool:
    """Take the minimum on each of the connector's phases if it is free there."""
    if any(free_a[p] < MIN_CURRENT_A - _EPSILON_A for p in evse.phases):
        return False
    for phase in evse.phases:
        free_a[phase] -= MIN_CURRENT_A
    return True


def _fill(admitted: Sequence[EvseInput], free_a: dict[str, float]) -> dict[int, tuple[str, float]]:
    """Max-min fair sharing of what is free among the admitted, each starting at the minimum."""
    amount_a = {e.index: MIN_CURRENT_A for e in admitted}
    reason = {e.index: FAIR_SHARE for e in admitted}
    rising = {e.index: e for e in admitted}
    while rising:
        users = {p: sum(1 for e in rising.values() if p in e.phases) for p in free_a}
        room_a = [free_a[p] / n for p, n in users.items() if n]
        caps = {i: _tightest(e) for i, e in rising.items()}
        step_a = max(0.0, min([*room_a, *(cap_a - amount_a[i] for i, (_, cap_a) in caps.items())]))
        for index, evse in rising.items():
            amount_a[index] += step_a
            for phase in evse.phases:
                free_a[phase] -= step_a
        full = {p for p, a in free_a.items() if users[p] and a <= _EPSILON_A}
        before = len(rising)
        for index in list(rising):
            cap_reason, cap_a = caps[index]
            if amount_a[index] >= cap_a - _EPSILON_A:
                reason[index] = cap_reason
                del rising[index]
            elif full & set(rising[index].phases):
                del rising[index]
        if len(rising) == before:  # float rounding left a step of nothing: nothing can rise
            break
    return {i: (reason[i], amount_a[i]) for i in amount_a}


def _tightest(evse: EvseInput) -> tuple[str, float]:
    """The connector's own tightest limit and its reason (the first of equals wins)."""
    caps = evse.caps()
    reason = min(caps, key=lambda r: caps[r])
    return reason, caps[reason]


def _round_down(amount_a: float) -> float:
    """Down to the 0.1 A step (a hair of float error below a step counts as on it)."""
    return round(math.floor(amount_a / STEP_A + 1e-6) * STEP_A, 1)
