"""set_station_max_current and the energy section of status over the real wire."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from supervisor.client import ApiError
from supervisor.client.evsectl import main as evsectl
from supervisor.energy import GridSettings
from tests.live import LiveStation, live_settings


@pytest.fixture
def live(tmp_path: pathlib.Path) -> Iterator[LiveStation]:
    station = LiveStation(live_settings(tmp_path, grid=GridSettings(max_current_a=32.0)))
    yield station
    station.close()


def test_the_operator_limit_over_the_wire(live: LiveStation) -> None:
    client = live.client()
    assert client.status()["energy"]["grid_max_current_a"] == 32.0
    assert client.set_station_max_current(20) is True
    energy = client.status()["energy"]
    assert energy["grid_max_current_a"] == 20.0
    assert energy["sources"] == {"fuse": 32.0, "operator": 20.0, "ocpp": None}
    assert [e["allocated_a"] for e in energy["evses"]] == [0.0, 0.0]
    published = live.subscriber.wait_for("station/energy", lambda v: v["grid_max_current_a"] == 20.0)
    assert published["value"]["phases"]["L1"] == {"allocated_a": 0.0}


@pytest.mark.parametrize("value", [-1, "20", None, float("inf")])
def test_an_impossible_station_limit_is_bad_args(live: LiveStation, value: object) -> None:
    with pytest.raises(ApiError) as refused:
        live.client().call("set_station_max_current", max_current=value)
    assert refused.value.code == "bad_args"
    assert "max_current" in refused.value.message


def test_evsectl_top_shows_each_connectors_allocation_and_what_bound_it(
    live: LiveStation, capsys: pytest.CaptureFixture[str]
) -> None:
    client = live.client()
    assert client.sim_plug_in(1) is True
    assert client.authorize(1, "CARD-1") is True
    live.wait_until(lambda: client.status()["energy"]["evses"][0]["allocated_a"] == 32.0, "the allocation")
    endpoints = [
        "--endpoint",
        live.server.command_endpoint,
        "--publish-endpoint",
        live.server.publish_endpoint,
    ]
    assert evsectl([*endpoints, "top", "--once", "--width", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("allocated A" in line and "bound by" in line for line in lines)
    first = next(line.split() for line in lines if line.split()[:1] == ["1"])
    second = next(line.split() for line in lines if line.split()[:1] == ["2"])
    assert "32.0" in first and "connector" in first
    assert "0.0" in second and "no" in second


def test_the_allocation_follows_the_cars_with_no_command_asking_for_it(live: LiveStation) -> None:
    """Two cars on a 32 A grid share it, with no operator command asking for an allocation."""
    client = live.client()
    for evse in (1, 2):
        assert client.sim_plug_in(evse) is True
        assert client.authorize(evse, "CARD-1") is True
    live.wait_until(
        lambda: [e["allocated_a"] for e in client.status()["energy"]["evses"]] == [16.0, 16.0],
        "the 32 A shared by the two cars",
    )
