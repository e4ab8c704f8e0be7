"""The allocation as a pure function: cases by hand, and properties over generated stations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.energy.allocation import (
    CAR_DRAWS_LESS,
    CONNECTOR_MAXIMUM,
    FAIR_SHARE,
    GRID_PHASES,
    LOCAL_LIMIT,
    MIN_CURRENT_A,
    MINIMUM_NOT_AVAILABLE,
    NO_SESSION,
    NO_STATION_LIMIT,
    OCPP_SCHEDULE,
    WAITING,
    Allocation,
    EvseInput,
    StationInput,
    allocate,
)
from supervisor.energy.settings import grid_phases

THREE = GRID_PHASES
TOLERANCE_A = 1e-6


def car(index: int, phases: tuple[str, ...] = THREE, **fields: object) -> EvseInput:
    """An authorized session, authorized at time `index` unless told otherwise."""
    values: dict[str, object] = {"authorized": True, "authorized_at": float(index), **fields}
    return EvseInput(index, phases, **values)  # type: ignore[arg-type]


def amounts(allocation: Allocation) -> list[float | None]:
    return [e.allocated_a for e in allocation.evses]


def reasons(allocation: Allocation) -> list[str]:
    return [e.reason for e in allocation.evses]


@pytest.mark.parametrize(
    ("cars", "expected"),
    [
        (1, [20.0]),
        (2, [10.0, 10.0]),
        (3, [6.6, 6.6, 6.6]),  # 20/3 rounded down: 3 x 6.7 would be 20.1 A
        (4, [6.6, 6.6, 6.6, 0.0]),
    ],
)
def test_four_cars_on_twenty_amperes(cars: int, expected: list[float]) -> None:
    allocation = allocate(StationInput(fuse_a=20), [car(i) for i in range(1, cars + 1)])
    assert amounts(allocation) == expected
    if cars == 4:
        assert reasons(allocation)[-1] == MINIMUM_NOT_AVAILABLE


@pytest.mark.parametrize(
    ("fields", "amount_a", "reason"),
    [
        ({"max_current_a": 16.0}, 16.0, CONNECTOR_MAXIMUM),
        ({"local_limit_a": 12.0}, 12.0, LOCAL_LIMIT),
        ({"ocpp_limit_a": 8.0}, 8.0, OCPP_SCHEDULE),
        ({"draw_cap_a": 9.0}, 9.0, CAR_DRAWS_LESS),
        ({"local_limit_a": 3.0}, 0.0, LOCAL_LIMIT),  # below the minimum: nothing, and why
    ],
)
def test_a_connector_that_needs_less_keeps_that_and_the_rest_goes_to_the_other(
    fields: dict[str, float], amount_a: float, reason: str
) -> None:
    allocation = allocate(StationInput(fuse_a=40), [car(1, THREE, **fields), car(2)])
    assert amounts(allocation) == [amount_a, 32.0 if amount_a <= 8.0 else 40.0 - amount_a]
    assert reasons(allocation)[0] == reason


def test_admission_follows_authorization_order_not_connector_order() -> None:
    cars = [car(1, authorized_at=30.0), car(2, authorized_at=10.0), car(3, authorized_at=20.0)]
    allocation = allocate(StationInput(fuse_a=13), cars)
    assert amounts(allocation) == [0.0, 6.5, 6.5]


def test_without_a_car_or_an_authorization_nothing_and_without_a_limit_no_bound() -> None:
    waiting = EvseInput(2, THREE)
    allocation = allocate(StationInput(fuse_a=32), [car(1), waiting])
    assert amounts(allocation) == [32.0, 0.0]
    assert reasons(allocation) == [CONNECTOR_MAXIMUM, NO_SESSION]
    unlimited = allocate(StationInput(), [car(1), waiting])
    assert amounts(unlimited) == [None, None]
    assert reasons(unlimited) == [NO_STATION_LIMIT, NO_STATION_LIMIT]


def test_a_car_waiting_for_its_authorization_has_the_minimum_held_after_the_sessions() -> None:
    waiting = [EvseInput(i, THREE, waiting=True) for i in (3, 4)]
    allocation = allocate(StationInput(fuse_a=20), [car(1), car(2), *waiting])
    assert amounts(allocation) == [7.0, 7.0, 0.0, 0.0]
    assert [e.held_a for e in allocation.evses] == [0.0, 0.0, 6.0, 0.0]
    assert reasons(allocation)[2:] == [WAITING, WAITING]


def test_the_station_limit_is_the_lowest_of_its_sources() -> None:
    assert StationInput(fuse_a=63, operator_a=40).limit_a == 40
    assert StationInput(fuse_a=63, operator_a=80).limit_a == 63  # never above the fuse
    assert StationInput(fuse_a=63, operator_a=50, ocpp_a=32).limit_a == 32
    assert StationInput(operator_a=16).limit_a == 16
    assert StationInput().limit_a is None


def test_single_phase_connectors_on_rotated_phases_share_each_phase_apart() -> None:
    phases = [grid_phases(rotation, 1) for rotation in ("RST", "STR", "TRS", "RST")]
    assert phases == [("L1",), ("L2",), ("L3",), ("L1",)]
    cars = [car(i + 1, p) for i, p in enumerate(phases)]
    allocation = allocate(StationInput(fuse_a=32), cars)
    assert amounts(allocation) == [16.0, 32.0, 32.0, 16.0]
    assert allocation.phase_sums_a() == {"L1": 32.0, "L2": 32.0, "L3": 32.0}


def test_a_three_phase_car_is_bound_by_its_busiest_phase() -> None:
    cars = [car(1, ("L1",)), car(2, ("L1",)), car(3, THREE)]
    allocation = allocate(StationInput(fuse_a=30), cars)
    assert amounts(allocation) == [10.0, 10.0, 10.0]
    assert allocation.phase_sums_a() == {"L1": 30.0, "L2": 10.0, "L3": 10.0}


def test_the_rotation_of_a_three_phase_connector_covers_all_phases() -> None:
    assert grid_phases("TRS", 3) == THREE
    assert grid_phases("TRS", 3, grid_phases_count=1) == ("L1",)


# --- properties --------------------------------------------------------------------------------

PHASE_SETS = st.sampled_from([THREE, ("L1",), ("L2",), ("L3",)])
OPTIONAL_LIMIT = st.one_of(st.none(), st.floats(0, 40, allow_nan=False))


@st.composite
def stations(draw: st.DrawFn) -> tuple[StationInput, list[EvseInput]]:
    limit = draw(st.floats(0, 120, allow_nan=False))
    count = draw(st.integers(0, 12))
    evses = [
        EvseInput(
            index=i + 1,
            phases=draw(PHASE_SETS),
            authorized=draw(st.booleans()),
            waiting=draw(st.booleans()),
            authorized_at=draw(st.floats(0, 100, allow_nan=False)),
            max_current_a=draw(st.floats(6, 80, allow_nan=False)),
            local_limit_a=draw(OPTIONAL_LIMIT),
            ocpp_limit_a=draw(OPTIONAL_LIMIT),
            draw_cap_a=draw(st.one_of(st.none(), st.floats(6, 40, allow_nan=False))),
        )
        for i in range(count)
    ]
    return StationInput(fuse_a=limit), evses


@settings(max_examples=300, deadline=None)
@given(stations())
def test_property_the_sum_on_each_phase_never_exceeds_the_station_limit(
    case: tuple[StationInput, list[EvseInput]],
) -> None:
    station, evses = case
    allocation = allocate(station, evses)
    assert station.limit_a is not None
    for phase in THREE:
        total = sum(e.allocated_a or 0.0 for e in allocation.evses if phase in e.phases)
        held = sum(e.held_a for e in allocation.evses if phase in e.phases)
        assert total + held <= station.limit_a + TOLERANCE_A


@settings(max_examples=300, deadline=None)
@given(stations())
def test_property_no_connector_between_zero_and_six_amperes_nor_above_its_own_limits(
    case: tuple[StationInput, list[EvseInput]],
) -> None:
    station, evses = case
    for evse, result in zip(evses, allocate(station, evses).evses, strict=True):
        amount_a = result.allocated_a
        assert amount_a is not None
        assert amount_a == 0.0 or amount_a >= MIN_CURRENT_A
        assert amount_a <= min(evse.caps().values()) + TOLERANCE_A
        assert evse.authorized or amount_a == 0.0
        assert round(amount_a * 10) == pytest.approx(amount_a * 10)  # 0.1 A steps


@settings(max_examples=300, deadline=None)
@given(stations())
def test_property_admission_in_authorization_order(case: tuple[StationInput, list[EvseInput]]) -> None:
    """A session refused its minimum was refused because those authorized before it took the room."""
    station, evses = case
    assert station.limit_a is not None
    results = allocate(station, evses).by_index()
    order = sorted((e for e in evses if e.authorized), key=lambda e: (e.authorized_at, e.index))
    for position, evse in enumerate(order):
        if results[evse.index].reason != MINIMUM_NOT_AVAILABLE:
            continue
        earlier = [e for e in order[:position] if (results[e.index].allocated_a or 0.0) > 0]
        crowded = [
            p
            for p in evse.phases
            if MIN_CURRENT_A * sum(p in e.phases for e in earlier) > station.limit_a - 6
        ]
        assert crowded, f"connector {evse.index} refused with room on {evse.phases}"


@settings(max_examples=300, deadline=None)
@given(stations())
def test_property_max_min_fair(case: tuple[StationInput, list[EvseInput]]) -> None:
    """Nobody admitted could get more without taking from someone who has no more than it.

    A connector below its own cap is on a full phase, and on that phase it has at least as
    much as every other connector (up to the 0.1 A rounding).
    """
    station, evses = case
    assert station.limit_a is not None
    allocation = allocate(station, evses)
    results = allocation.by_index()
    sums = {
        p: sum((e.allocated_a or 0.0) + e.held_a for e in allocation.evses if p in e.phases) for p in THREE
    }
    step_slack_a = 0.1 * (len(evses) + 1)
    for evse in evses:
        amount_a = results[evse.index].allocated_a or 0.0
        if amount_a == 0.0 or results[evse.index].reason != FAIR_SHARE:
            continue
        assert amount_a < min(evse.caps().values()) + TOLERANCE_A
        bottlenecks = [
            p
            for p in evse.phases
            if sums[p] >= station.limit_a - step_slack_a
            and all(
                amount_a >= (results[o.index].allocated_a or 0.0) - 0.1 - TOLERANCE_A
                for o in evses
                if p in o.phases
            )
        ]
        assert bottlenecks, f"connector {evse.index} at {amount_a} A could rise"
