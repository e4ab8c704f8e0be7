"""Energy management in the real station: simulated cars, real actors, a fake clock, explicit ticks."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from actors.messages import Authorize, ChaosKill
from drivers.clock import FakeClock
from supervisor.config import load_config
from supervisor.energy import GridSettings
from supervisor.energy.manager import ROLE
from supervisor.energy.store import JournalLimitStore
from supervisor.station import Station
from supervisor.station.assembly import ROLES
from supervisor.tree import Ping, Unavailable
from tests.live import embedded

STEP_S = 2.0  # the fake clock moves by this much between control cycles in tests of time


class Recording:
    """Every publication in the bus's order: limits per connector and the station limit."""

    def __init__(self, limit_a: float) -> None:
        self.items: list[tuple[str, Any]] = []
        self.initial_limit_a = limit_a

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        self.items.append((topic, payload["value"]))

    def events(self, index: int) -> list[str]:
        return [v["event"] for t, v in self.items if t == f"evse/{index}/session_events"]

    def worst_excess_a(self) -> float:
        """The most the sum of limits ever was above the station limit in force (≤ 0: never)."""
        limits: dict[str, float] = {}
        limit_a, worst_a = self.initial_limit_a, float("-inf")
        for topic, value in self.items:
            if topic == "station/energy":
                limit_a = value["grid_max_current_a"]
            elif topic.endswith("/limits"):
                limits[topic] = value["max_current"]
            else:
                continue
            worst_a = max(worst_a, sum(limits.values()) - limit_a)
        return worst_a


def four_connectors(state_dir: pathlib.Path, fuse_a: float = 20.0, count: int = 4) -> Any:
    base = embedded(load_config(None))
    connector = base.connectors[0]
    connectors = tuple(
        dataclasses.replace(connector, index=i, evse_id=f"DE*TST*E{i}") for i in range(1, count + 1)
    )
    return dataclasses.replace(base, state_dir=state_dir, connectors=connectors, grid=GridSettings(fuse_a))


@pytest.fixture
def station(tmp_path: pathlib.Path) -> Iterator[Station]:
    built = Station.build(four_connectors(tmp_path), FakeClock())
    built.start(ticker=False)
    yield built
    built.stop()


def settle(station: Station, rounds: int = 4) -> None:
    """Control cycles: the allocator and every connector's actors each handle a tick."""
    for _ in range(rounds):
        station.tick()
        with contextlib.suppress(Unavailable):  # unless a test stopped it
            station.energy.tree.ask(ROLE, Ping(), 5.0)
        for connector in station.connectors:
            for role, _ in ROLES:
                connector.tree.ask(role, Ping(), 5.0)


def later(station: Station, seconds: float) -> None:
    clock = station.clock
    assert isinstance(clock, FakeClock)
    for _ in range(int(seconds / STEP_S)):
        clock.advance(STEP_S)
        settle(station)


def sim(station: Station, index: int, control: str, **args: Any) -> bool:
    result = station.sim(index, control, args)
    settle(station)
    return result


def authorize(station: Station, index: int) -> bool:
    result: bool = station.ask_session(index, Authorize(f"CARD-{index}"), 5.0)
    settle(station)
    return result


def arrive(station: Station, index: int, **car: Any) -> None:
    assert sim(station, index, "plug_in", **car) is True
    assert authorize(station, index) is True


def limits(station: Station) -> list[float]:
    return [(c.state.last_limits or {}).get("max_current", 0.0) for c in station.connectors]


def drawn(station: Station) -> list[float]:
    return [max(c.plant.board.status().currents_a) for c in station.connectors]


def states(station: Station) -> list[str]:
    return [c.state_name().value for c in station.connectors]


def recording_of(station: Station) -> Recording:
    recording = Recording(station.settings.grid.max_current_a or 0.0)
    station.bus.attach(recording)
    return recording


def test_four_cars_on_twenty_amperes_share_it_and_the_fourth_waits_until_one_leaves(
    station: Station,
) -> None:
    recording = recording_of(station)
    arrive(station, 1)
    assert limits(station) == [20.0, 0.0, 0.0, 0.0]
    arrive(station, 2)
    assert limits(station) == [10.0, 10.0, 0.0, 0.0]
    arrive(station, 3)
    assert limits(station) == [6.6, 6.6, 6.6, 0.0]  # 20/3 A rounded down to 0.1 A
    assert drawn(station) == [6.6, 6.6, 6.6, 0.0]  # the simulated cars follow at once
    arrive(station, 4)
    assert states(station) == ["Charging", "Charging", "Charging", "ChargingPausedEVSE"]
    assert station.status()["energy"]["evses"][3]["reason"] == "minimum not available"
    assert sim(station, 1, "unplug") is True
    assert states(station)[1:] == ["Charging", "Charging", "Charging"]
    assert limits(station) == [0.0, 6.6, 6.6, 6.6]
    waited = recording.events(4)
    assert waited[waited.index("ChargingPausedEVSE") :][-1] == "ChargingResumed"  # by itself
    for index in (1, 2, 3):  # each was authorized while the minimum was free: no pause first
        assert "ChargingPausedEVSE" not in recording.events(index)
    assert recording.worst_excess_a() <= 1e-6


def test_a_pre_authorized_car_plugged_in_while_another_charges_starts_without_a_pause(
    station: Station,
) -> None:
    recording = recording_of(station)
    arrive(station, 1)
    assert authorize(station, 2) is True  # before plug-in
    assert limits(station)[0] == 14.0  # the minimum is held for the car on its way
    assert sim(station, 2, "plug_in") is True
    assert states(station)[:2] == ["Charging", "Charging"]
    assert limits(station)[:2] == [10.0, 10.0]
    assert "ChargingPausedEVSE" not in recording.events(2)
    energy = station.status()["energy"]
    assert energy["grid_max_current_a"] == 20.0
    assert energy["phases"]["L1"] == {"allocated_a": 20.0}
    assert [e["reason"] for e in energy["evses"]] == [
        "fair share",
        "fair share",
        "no authorized session",
        "no authorized session",
    ]


def test_a_car_drawing_8_a_frees_the_rest_of_its_share_after_10_s(station: Station) -> None:
    arrive(station, 1, max_current_a=8)
    arrive(station, 2)
    assert limits(station)[:2] == [10.0, 10.0]
    assert drawn(station)[:2] == [8.0, 10.0]
    later(station, 8.0)
    assert limits(station)[:2] == [10.0, 10.0]
    later(station, 2 * STEP_S)
    assert limits(station)[:2] == [9.0, 11.0]
    reasons = [e["reason"] for e in station.status()["energy"]["evses"][:2]]
    assert reasons == ["car draws less", "fair share"]


def test_set_station_max_current_down_and_up_never_leaves_the_sum_above_it(station: Station) -> None:
    recording = recording_of(station)
    for index in (1, 2, 3):
        arrive(station, index)
    assert station.set_station_max_current(12.0) is True
    settle(station)
    assert limits(station)[:3] == [6.0, 6.0, 0.0]  # admission in authorization order
    assert drawn(station)[:3] == [6.0, 6.0, 0.0]
    assert states(station)[2] == "ChargingPausedEVSE"
    assert station.set_station_max_current(50.0) is True  # the fuse still says 20
    settle(station)
    assert limits(station)[:3] == [6.6, 6.6, 6.6]
    assert drawn(station)[:3] == [6.6, 6.6, 6.6]
    assert station.set_station_max_current(16.0) is True
    settle(station)
    assert limits(station)[:3] == [8.0, 8.0, 0.0]
    assert recording.worst_excess_a() <= 1e-6
    assert station.status()["energy"]["sources"] == {"fuse": 20.0, "operator": 16.0, "ocpp": None}
    assert JournalLimitStore(station.journal).load() == 16.0  # kept for the next start


def test_limits_hold_while_the_allocator_restarts_and_fall_to_0_a_10_s_after_it_is_gone(
    station: Station,
) -> None:
    recording = recording_of(station)
    arrive(station, 1)
    arrive(station, 2)
    station.energy.tree.ref(ROLE).tell(ChaosKill())
    station.energy.tree.wait_ref(ROLE, station.clock.monotonic() + 5.0)  # restarted
    settle(station)
    assert limits(station)[:2] == [10.0, 10.0]
    assert states(station)[:2] == ["Charging", "Charging"]
    station.energy.tree.terminate_child(ROLE)
    later(station, 8.0)
    assert limits(station)[:2] == [10.0, 10.0]
    later(station, 2 * STEP_S)
    assert limits(station)[:2] == [0.0, 0.0]
    assert drawn(station)[:2] == [0.0, 0.0]
    assert recording.events(1)[-1] == "ChargingPausedEVSE"
    station.energy.tree.restart_child(ROLE)
    settle(station)
    assert limits(station)[:2] == [10.0, 10.0]
    assert recording.events(1)[-1] == "ChargingResumed"
    supervision = [v for t, v in recording.items if t == "station/supervision"]
    assert [(v["actor"], v["event"]) for v in supervision][:2] == [(ROLE, "crashed"), (ROLE, "restarted")]


def test_a_settled_allocation_tells_idle_connectors_nothing_and_still_meets_a_car_that_arrives(
    station: Station,
) -> None:
    """Nothing to renew: quiet intervals leave every model as it was; a change is met at once."""
    settle(station)
    models = [c.state.model for c in station.connectors]
    later(station, 5 * STEP_S)  # five update intervals and more
    assert [c.state.model for c in station.connectors] == models
    assert all(c.state.model is model for c, model in zip(station.connectors, models, strict=True))
    arrive(station, 3)
    assert limits(station) == [0.0, 0.0, 20.0, 0.0]
    renewed_until = station.connectors[2].state.model.allocation_until
    later(station, 2 * STEP_S)  # a charging car's allocation is renewed, idle ones still untold
    assert (station.connectors[2].state.model.allocation_until or 0.0) > (renewed_until or 0.0)
    assert all(station.connectors[i].state.model is models[i] for i in (0, 1, 3))
    assert station.set_station_max_current(10.0) is True
    settle(station)
    assert limits(station) == [0.0, 0.0, 10.0, 0.0]


def test_without_a_station_limit_the_allocator_settles_and_a_limit_set_later_is_applied(
    tmp_path: pathlib.Path,
) -> None:
    settings = dataclasses.replace(four_connectors(tmp_path), grid=GridSettings(None))
    unlimited = Station.build(settings, FakeClock())
    unlimited.start(ticker=False)
    try:
        arrive(unlimited, 1)
        assert limits(unlimited)[0] == 32.0  # the connector's maximum: nothing binds it
        models = [c.state.model for c in unlimited.connectors]
        later(unlimited, 3 * STEP_S)
        assert all(c.state.model.allocation_a is None for c in unlimited.connectors)
        assert [c.state.model.allocation_until for c in unlimited.connectors] == [
            m.allocation_until for m in models
        ]
        assert unlimited.set_station_max_current(16.0) is True
        settle(unlimited)
        assert limits(unlimited)[0] == 16.0
    finally:
        unlimited.stop()
