"""A device away for less than `device_loss_s` never costs its connector; a longer loss does (simulator)."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterator

import pytest

from tests.live import FAST_SUPERVISION, LiveStation, live_settings
from tests.supervisor.station.test_chaos import charging_again, start_session

STRICT = dataclasses.replace(FAST_SUPERVISION, intensity=3, device_loss_s=1.5)


@pytest.fixture
def strict_live(tmp_path: pathlib.Path) -> Iterator[LiveStation]:
    """Given up past 3 counted failures; a device lost past 1.5 s."""
    station = LiveStation(live_settings(tmp_path, supervision=STRICT))
    yield station
    station.close()


def crashes(live: LiveStation, index: int, role: str, count: int) -> None:
    for _ in range(count):
        live.subscriber.wait_for(
            "station/supervision",
            lambda v: v["evse"] == index and v["actor"] == role and v["event"] == "crashed",
        )


@pytest.mark.parametrize(("kind", "role"), [("meter_comm", "meter"), ("board_comm", "hardware")])
def test_a_device_away_for_less_than_device_loss_s_restarts_without_giving_up(
    strict_live: LiveStation, kind: str, role: str
) -> None:
    live = strict_live
    client = live.client(timeout_s=8.0, retries=0)
    start_session(live, client, 1)
    assert client.sim_fault(1, kind) is True
    crashes(live, 1, role, STRICT.intensity + 2)  # beyond the intensity: these are not counted
    assert client.sim_clear_fault(1, kind) is True
    charging_again(live, 1)
    assert live.station.connector(1).tree.state != "gave_up"
    names = [e["value"]["event"] for e in client.get_events(1, 0)["events"]]
    assert "PermanentFault" not in names and names.count("SessionStarted") == 1


def test_a_device_lost_past_device_loss_s_ends_in_permanent_fault(strict_live: LiveStation) -> None:
    live = strict_live
    client = live.client(timeout_s=8.0, retries=0)
    start_session(live, client, 1)
    client.sim_fault(1, "board_comm")
    gave_up = live.subscriber.wait_for(
        "station/supervision", lambda v: v["evse"] == 1 and v["event"] == "gave_up"
    )
    assert "away for" in gave_up["value"]["reason"]
    assert live.subscriber.wait_event(1, "PermanentFault")["error"] == "Internal"
    assert live.station.connector(2).tree.state == "running"
