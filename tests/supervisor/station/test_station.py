"""The whole station in one process: connectors side by side under their supervisors."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from actors.messages import Authorize
from drivers.clock import FakeClock
from supervisor.api.commands import COMMANDS
from supervisor.api.station_commands import StationCommands
from supervisor.config import load_config
from supervisor.station import Station
from supervisor.station.assembly import ROLES
from supervisor.tree import Ping
from tests.harness import VARIABLE_TYPES, validate
from tests.live import embedded


class Recording:
    """Everything the station publishes, validated against the schema as it comes."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        variable = topic.rsplit("/", 1)[-1]
        if topic.startswith("evse/"):
            validate(VARIABLE_TYPES[variable], payload["value"])
        self.items.append((topic, payload))

    def events(self, index: int) -> list[str]:
        topic = f"evse/{index}/session_events"
        return [p["value"]["event"] for t, p in self.items if t == topic]


@pytest.fixture
def station(tmp_path: pathlib.Path) -> Iterator[Station]:
    settings = dataclasses.replace(embedded(load_config(None)), state_dir=tmp_path)
    built = Station.build(settings, FakeClock())
    built.start(ticker=False)
    yield built
    built.stop()


def settle(station: Station, rounds: int = 4) -> None:
    """Tick every connector and wait until each actor has handled it."""
    for _ in range(rounds):
        station.tick()
        for connector in station.connectors:
            for role, _ in ROLES:
                connector.tree.ask(role, Ping(), 5.0)


def sim(station: Station, index: int, control: str, **args: Any) -> bool:
    """A control of the connector's simulator, then a few control cycles."""
    result = station.sim(index, control, args)
    settle(station)
    return result


def authorize(station: Station, index: int, token: str) -> bool:
    result: bool = station.ask_session(index, Authorize(token), 5.0)
    settle(station)
    return result


def test_two_connectors_charge_at_once_and_a_fault_stays_on_its_connector(station: Station) -> None:
    recording = Recording()
    station.bus.attach(recording)
    clock = station.clock
    assert isinstance(clock, FakeClock)
    for index in (1, 2):
        assert sim(station, index, "plug_in") is True
        assert authorize(station, index, f"CARD-{index}") is True
    assert [c.state_name().value for c in station.connectors] == ["Charging", "Charging"]
    assert sim(station, 1, "fault", kind="rcd") is True
    energy_before = station.connector(2).plant.meter.reading().energy_import_wh
    clock.advance(10)
    settle(station)
    assert [c.state_name().value for c in station.connectors] == ["Error", "Charging"]
    assert station.connector(2).plant.meter.reading().energy_import_wh > energy_before
    assert recording.events(1)[-1] == "Error"
    assert "Error" not in recording.events(2)
    assert station.connector(1).plant.controls.state()["relais_on"] is False


def test_stop_switches_every_connector_off(tmp_path: pathlib.Path) -> None:
    settings = dataclasses.replace(embedded(load_config(None)), state_dir=tmp_path)
    station = Station.build(settings, FakeClock())
    station.start(ticker=False)
    for index in (1, 2):
        sim(station, index, "plug_in")
        authorize(station, index, "T")
    assert all(c.plant.controls.state()["relais_on"] for c in station.connectors)
    station.stop()
    assert not any(c.plant.controls.state()["power_allowed"] for c in station.connectors)


def test_list_evses_and_status(station: Station) -> None:
    evses = station.list_evses()
    assert [e["evse_id"] for e in evses] == ["DE*PNX*E123456*1", "DE*PNX*E123456*2"]
    assert {e["state"] for e in evses} == {"Idle"}
    status = station.status()
    assert status["epoch"] == station.epoch and status["pid"] > 0
    first = status["evses"][0]
    assert first["supervisor"]["state"] == "running"
    assert [a["role"] for a in first["supervisor"]["actors"]] == [
        "hardware",
        "meter",
        "reservation",
        "session",
    ]
    assert first["meter_public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert station.resolve_evse("DE*PNX*E123456*2") == 2
    assert station.resolve_evse(3) is None and station.resolve_evse("nope") is None


def test_get_events_replays_what_was_published(station: Station) -> None:
    sim(station, 2, "plug_in")
    events = station.events_since(2, 0)
    assert [e["value"]["event"] for e in events["events"]] == ["SessionStarted", "AuthRequired"]
    assert events["last_event_seq"] == 2
    later = station.events_since(2, 1)
    assert [e["event_seq"] for e in later["events"]] == [2]


def test_an_idle_station_arms_only_its_telemetry_and_meter_timers(tmp_path: pathlib.Path) -> None:
    settings = dataclasses.replace(embedded(load_config(None)), state_dir=tmp_path)
    station = Station.build(settings)
    station.start()
    try:
        for connector in station.connectors:
            for role, _ in ROLES:
                connector.tree.ask(role, Ping(), 5.0)  # each has handled a message, so armed its timer
        armed = {(i, role): station.timer.armed((i, role)) for i in (1, 2) for role, _ in ROLES}
        assert {key for key, due in armed.items() if due is not None} <= {
            (i, role) for i in (1, 2) for role in ("hardware", "meter")
        }
        assert armed[(1, "session")] is None and armed[(1, "reservation")] is None
    finally:
        station.stop()


def test_status_list_evses_and_snapshot_can_be_filtered(station: Station) -> None:
    commands = StationCommands(station)
    assert sim(station, 2, "plug_in") is True
    run = commands.run
    assert [e["index"] for e in run(COMMANDS["list_evses"], {"evse_from": 2})] == [2]
    assert [e["index"] for e in run(COMMANDS["list_evses"], {"state": "Idle"})] == [1]
    assert run(COMMANDS["list_evses"], {"evse_from": 2, "state": "Idle"}) == []
    assert [e["index"] for e in run(COMMANDS["status"], {"evse_to": 1})["evses"]] == [1]
    topics = run(COMMANDS["snapshot"], {"evse_from": 2, "evse_to": 2})["vars"]
    assert topics and not any(t.startswith("evse/1/") for t in topics)
