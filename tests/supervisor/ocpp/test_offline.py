"""Offline: charging goes on, transaction messages wait in the journal, in order, across restarts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.client import Client
from supervisor.config.settings import StationSettings
from supervisor.journal import JournalCorrupt
from supervisor.station import Station
from tests.live import LiveStation, live_settings
from tests.supervisor.ocpp.central import CentralSystem, eventually
from tests.supervisor.ocpp.test_bridge import ocpp_settings


@pytest.fixture
def central() -> Iterator[CentralSystem]:
    system = CentralSystem().start()
    system.tags["CARD-OK"] = "Accepted"
    yield system
    system.close()


def settings_of(tmp_path: Path, central: CentralSystem, **ocpp: Any) -> StationSettings:
    return live_settings(tmp_path, ocpp=ocpp_settings(central, **ocpp))


@pytest.fixture
def station(tmp_path: Path, central: CentralSystem) -> Iterator[LiveStation]:
    live = LiveStation(settings_of(tmp_path, central))
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 2)
    yield live
    live.close()


def ocpp_status(client: Client) -> dict[str, Any]:
    status: dict[str, Any] = client.status()["ocpp"]
    return status


def go_offline(central: CentralSystem, client: Client) -> None:
    central.stop()
    eventually(lambda: not ocpp_status(client)["connected"], "disconnected")


def transaction_calls(central: CentralSystem) -> list[tuple[str, dict[str, Any]]]:
    return [(name, p) for name, p in central.calls if name in ("StartTransaction", "StopTransaction")]


def test_a_whole_session_offline_is_sent_in_order_once_the_central_system_is_back(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    assert client.authorize(2, "CARD-OK") is True  # known to the cache from now on
    status = ocpp_status(client)
    assert status["connected"] is True and status["url"] == f"{central.url}/CP-1"
    go_offline(central, client)
    client.call("sim_plug_in", 1)
    assert client.authorize(1, "CARD-OK") is True  # the cache, offline
    assert client.authorize(1, "CARD-UNKNOWN") is False
    eventually(lambda: ocpp_status(client)["queue_length"] >= 3, "a start and meter values queued")
    assert client.status()["evses"][0]["state"] == "Charging"
    client.call("sim_unplug", 1)
    queued = ocpp_status(client)["queue_length"]
    eventually(lambda: ocpp_status(client)["queue_length"] > queued, "a stop queued")
    assert transaction_calls(central) == []
    central.start()
    stop = central.wait_for("StopTransaction")
    (start_name, start), (stop_name, _) = transaction_calls(central)
    assert (start_name, stop_name, start["connectorId"], start["idTag"]) == (
        "StartTransaction",
        "StopTransaction",
        1,
        "CARD-OK",
    )
    assert stop["transactionId"] == central.given[0][0] and stop["reason"] == "EVDisconnected"
    sent = [p for name, p in central.calls if name in ("StartTransaction", "MeterValues", "StopTransaction")]
    assert all(p["transactionId"] == stop["transactionId"] for p in sent[1:])
    eventually(lambda: ocpp_status(client)["queue_length"] == 0, "the queue emptied")


def test_call_errors_and_silence_are_retried_then_the_next_message(
    station: LiveStation, central: CentralSystem
) -> None:
    central.script["StartTransaction"] = ["error", "silent"]  # the third attempt is answered
    client = station.client()
    client.call("sim_plug_in", 1)
    assert client.authorize(1, "CARD-OK") is True
    starts = central.wait_count("StartTransaction", 3)
    assert len({p["timestamp"] for p in starts}) == 1  # the same message, three times
    meter_values = central.wait_for("MeterValues")
    assert meter_values["transactionId"] == central.given[0][0]


def test_a_message_refused_every_attempt_is_dropped_with_its_transaction(
    station: LiveStation, central: CentralSystem
) -> None:
    central.script["StartTransaction"] = ["error", "silent", "error"]  # TransactionMessageAttempts: 3
    client = station.client()
    client.call("sim_plug_in", 1)
    assert client.authorize(1, "CARD-OK") is True
    central.wait_count("StartTransaction", 3)
    client.call("sim_unplug", 1)
    client.call("sim_plug_in", 2)
    assert client.authorize(2, "CARD-OK") is True
    fourth = central.wait_count("StartTransaction", 4)[-1]
    assert fourth["connectorId"] == 2
    client.call("sim_unplug", 2)
    stop = central.wait_for("StopTransaction")
    assert stop["transactionId"] == central.given[0][0] and len(central.of("StopTransaction")) == 1
    assert all(p["connectorId"] == 2 for p in central.of("MeterValues"))


def test_a_restart_that_finds_the_car_gone_stops_with_power_loss(
    tmp_path: Path, central: CentralSystem
) -> None:
    settings = settings_of(tmp_path, central)
    first = LiveStation(settings)
    try:
        client = first.client()
        central.wait_for("StatusNotification", lambda p: p["connectorId"] == 2)
        assert client.authorize(2, "CARD-OK") is True
        go_offline(central, client)
        client.call("sim_plug_in", 1)
        assert client.authorize(1, "CARD-OK") is True
        eventually(lambda: ocpp_status(client)["queue_length"] >= 2, "a start queued")
    finally:
        first.close()  # the simulated car goes with the station's embedded plant
    second = LiveStation(dataclasses.replace(settings))
    try:
        client = second.client()  # the take-up queues the stop: start, begin reading, stop
        eventually(lambda: ocpp_status(client)["queue_length"] >= 3, "the PowerLoss stop queued")
        central.start()
        stop = central.wait_for("StopTransaction")
        assert stop["reason"] == "PowerLoss" and stop["transactionId"] == central.given[0][0]
        assert [name for name, _ in transaction_calls(central)] == ["StartTransaction", "StopTransaction"]
        assert stop["meterStop"] >= central.of("StartTransaction")[0]["meterStart"]
    finally:
        second.close()


def test_a_corrupt_queue_refuses_the_start_naming_the_file(tmp_path: Path, central: CentralSystem) -> None:
    queue = tmp_path / "journal" / "ocpp.sqlite3"
    queue.parent.mkdir(parents=True)
    queue.write_bytes(b"not a database" * 100)
    with pytest.raises(JournalCorrupt) as raised:
        Station.build(settings_of(tmp_path, central))
    assert str(queue) in str(raised.value) and "move it away" in str(raised.value)
