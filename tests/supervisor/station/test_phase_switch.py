"""A phase switch that waits seconds for a slow car: no actor is blocked, so none is declared hung."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tests.live import FAST_SUPERVISION, LiveStation, live_settings

STOP_DELAY_S = 1.2  # the car draws this long after the PWM is gone: well past a ping's timeout


@pytest.fixture
def live(tmp_path: pathlib.Path) -> Iterator[LiveStation]:
    station = LiveStation(live_settings(tmp_path))
    yield station
    station.close()


def test_a_phase_switch_with_a_slow_car_restarts_no_actor(live: LiveStation) -> None:
    assert 2 * FAST_SUPERVISION.ping_timeout_s < STOP_DELAY_S
    client = live.client(timeout_s=8.0, retries=0)
    assert client.sim_plug_in(1, stop_delay_s=STOP_DELAY_S) is True
    live.subscriber.wait_event(1, "AuthRequired")
    assert client.authorize(1, "CARD-1") is True
    live.subscriber.wait_event(1, "ChargingResumed")
    generations = [a["generation"] for a in live.station.connector(1).tree.describe()["actors"]]
    before = len(live.subscriber.values("evse/1/session_events"))

    assert client.switch_three_phases_while_charging(1, False) == "Success"

    live.subscriber.wait_for("evse/1/limits", lambda v: v["nr_of_phases_available"] == 1)
    assert client.status()["evses"][0]["state"] == "Charging"
    supervision = [v for v in live.subscriber.values("station/supervision") if v["evse"] == 1]
    assert [v for v in supervision if v["event"] != "started"] == []
    assert [a["generation"] for a in live.station.connector(1).tree.describe()["actors"]] == generations
    assert live.subscriber.values("evse/1/session_events")[before:] == []  # the switch is silent
