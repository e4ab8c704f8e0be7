"""The composite schedule as pure functions: stack levels, purposes, kinds, validity, units."""

from __future__ import annotations

from typing import Any

import pytest

from supervisor.ocpp.profiles import (
    Profile,
    ProfileError,
    amperes,
    connector_limit_a,
    in_unit,
    parse,
    schedule,
    station_limit_a,
)

T0 = 1_800_000_000.0  # a moment (Unix s)
DAY_S = 86400.0


def raw(
    profile_id: int,
    purpose: str = "TxDefaultProfile",
    periods: tuple[tuple[int, float], ...] = ((0, 16.0),),
    stack_level: int = 0,
    kind: str = "Absolute",
    unit: str = "A",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "charging_profile_id": profile_id,
        "stack_level": stack_level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": kind,
        "charging_schedule": {
            "charging_rate_unit": unit,
            "charging_schedule_period": [{"start_period": s, "limit": limit} for s, limit in periods],
            **extra.pop("schedule", {}),
        },
    }
    body.update(extra)
    return body


def made(connector: int, body: dict[str, Any]) -> Profile:
    return parse(connector, body, T0)


def test_tx_profile_over_tx_default_and_the_higher_stack_level_within_a_purpose() -> None:
    profiles = [
        made(0, raw(1, periods=((0, 20.0),))),
        made(1, raw(2, periods=((0, 18.0),), stack_level=1)),
        made(1, raw(3, "TxProfile", ((0, 10.0),))),
        made(1, raw(4, "TxProfile", ((0, 8.0),), stack_level=2)),
    ]
    assert connector_limit_a(profiles, 1, T0, None, 3) == 8.0
    assert connector_limit_a(profiles[:3], 1, T0, None, 3) == 10.0
    assert connector_limit_a(profiles[:2], 1, T0, None, 3) == 18.0
    assert connector_limit_a(profiles[:2], 2, T0, None, 3) == 20.0  # connector 0's default
    assert connector_limit_a([], 1, T0, None, 3) is None


def test_on_a_tie_the_connectors_own_default_wins_over_connector_0s() -> None:
    profiles = [made(0, raw(1, periods=((0, 20.0),))), made(2, raw(2, periods=((0, 12.0),)))]
    assert connector_limit_a(profiles, 2, T0, None, 3) == 12.0
    assert connector_limit_a(profiles, 1, T0, None, 3) == 20.0


def test_a_higher_stack_level_out_of_force_leaves_the_lower_one() -> None:
    later = raw(2, stack_level=3, periods=((0, 6.0),), valid_from="2027-06-01T00:00:00Z")
    profiles = [made(1, raw(1, periods=((0, 16.0),))), made(1, later)]
    assert connector_limit_a(profiles, 1, T0, None, 3) == 16.0
    assert connector_limit_a(profiles, 1, T0 + 400 * DAY_S, None, 3) == 6.0


def test_periods_duration_and_a_relative_start() -> None:
    body = raw(1, kind="Relative", periods=((0, 20.0), (300, 8.0)), schedule={"duration": 600})
    profile = made(1, body)
    start = T0 + 50
    assert connector_limit_a([profile], 1, start + 10, start, 3) == 20.0
    assert connector_limit_a([profile], 1, start + 300, start, 3) == 8.0
    assert connector_limit_a([profile], 1, start + 600, start, 3) is None
    assert profile.changes(start, start + 3600, start) == {start, start + 300, start + 600}


def test_a_daily_recurring_profile_repeats_each_day() -> None:
    body = raw(
        1,
        kind="Recurring",
        periods=((0, 32.0), (8 * 3600, 10.0), (18 * 3600, 32.0)),
        recurrency_kind="Daily",
        schedule={"start_schedule": "2027-01-01T00:00:00Z"},
    )
    profile = made(1, body)
    midnight = profile.start_s
    assert midnight is not None
    for day in (0, 1, 30):
        assert connector_limit_a([profile], 1, midnight + day * DAY_S + 9 * 3600, None, 3) == 10.0
        assert connector_limit_a([profile], 1, midnight + day * DAY_S + 19 * 3600, None, 3) == 32.0


def test_watts_at_230_v_per_phase_in_use() -> None:
    assert amperes(6900, "W", 3) == pytest.approx(10.0)
    assert amperes(2300, "W", 1) == pytest.approx(10.0)
    assert in_unit(10.0, "W", 3) == pytest.approx(6900.0)
    one_phase = raw(1, "TxProfile", ((0, 2300.0),), unit="W")
    one_phase["charging_schedule"]["charging_schedule_period"][0]["number_phases"] = 1
    assert connector_limit_a([made(1, one_phase)], 1, T0, None, 3) == pytest.approx(10.0)
    station = made(0, raw(9, "ChargePointMaxProfile", ((0, 13800.0),), unit="W"))
    assert station_limit_a([station], T0, 3) == pytest.approx(20.0)


def test_the_composite_schedule_merges_equal_neighbours() -> None:
    def limit_at(t: float) -> float:
        return 16.0 if t < T0 + 100 or t >= T0 + 300 else 8.0

    moments = [T0 + 100, T0 + 200, T0 + 300, T0 + 5000]
    assert schedule(limit_at, moments, T0, 1000) == [(0, 16.0), (100, 8.0), (300, 16.0)]


@pytest.mark.parametrize(
    ("connector", "body"),
    [
        (1, raw(1, "ChargePointMaxProfile")),  # connector 0 only
        (0, raw(1, "TxProfile")),  # a connector only
        (1, raw(1, periods=((5, 16.0),))),  # the first period starts at 0
        (1, raw(1, periods=((0, 16.0), (0, 8.0)))),  # increasing starts
        (1, raw(1, periods=((0, -1.0),))),
        (1, raw(1, unit="kW")),
        (1, raw(1, kind="Recurring")),  # without recurrencyKind and startSchedule
        (1, {"charging_profile_id": 1}),
    ],
)
def test_a_profile_the_charge_point_cannot_take_is_a_profile_error(
    connector: int, body: dict[str, Any]
) -> None:
    with pytest.raises(ProfileError):
        parse(connector, body, T0)
