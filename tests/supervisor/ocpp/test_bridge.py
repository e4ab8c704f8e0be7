"""The station against a central system over real WebSockets on loopback: boot, status, sessions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.client import Client
from supervisor.config.ocpp import OcppSettings
from tests.live import LiveStation, live_settings
from tests.supervisor.ocpp.central import CentralSystem


def ocpp_settings(central: CentralSystem, **changes: Any) -> OcppSettings:
    """Short timeouts and retries, so that the tests run in seconds."""
    settings = OcppSettings(
        url=central.url,
        charge_point_id="CP-1",
        meter_values_interval_s=1,
        response_timeout_s=1,
        transaction_message_retry_interval_s=0.2,
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
    )
    return dataclasses.replace(settings, **changes)


@pytest.fixture
def central() -> Iterator[CentralSystem]:
    system = CentralSystem().start()
    yield system
    system.close()


@pytest.fixture
def station(tmp_path: Path, central: CentralSystem) -> Iterator[LiveStation]:
    live = LiveStation(live_settings(tmp_path, ocpp=ocpp_settings(central)))
    yield live
    live.close()


def test_boot_then_the_status_of_every_connector_through_a_session(
    station: LiveStation, central: CentralSystem
) -> None:
    boot = central.wait_for("BootNotification")
    assert (boot["chargePointVendor"], boot["chargePointModel"]) == ("evse-supervisor", "sim")
    assert central.paths == ["/CP-1"]
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 2)
    assert [p["connectorId"] for p in central.of("StatusNotification")][:3] == [0, 1, 2]
    client: Client = station.client()
    central.tags["CARD-1"] = "Accepted"
    client.call("sim_plug_in", 1)
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == "Preparing")
    assert client.authorize(1, "CARD-1") is True
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == "Charging")
    client.call("sim_ev_pause", 1)
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == "SuspendedEV")
    client.cancel_charging(1, "Local")
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 1 and p["status"] == "Finishing")
    client.call("sim_unplug", 1)
    wanted = ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Available"]
    assert central.wait_statuses(1, wanted)[-1] == "Available"
    assert all(p["errorCode"] == "NoError" for p in central.of("StatusNotification"))


def test_an_rcd_trip_is_faulted_ground_failure(station: LiveStation, central: CentralSystem) -> None:
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 2)
    client = station.client()
    client.call("sim_plug_in", 2)
    client.call("sim_fault", 2, kind="rcd")
    faulted = central.wait_for(
        "StatusNotification", lambda p: p["connectorId"] == 2 and p["status"] == "Faulted"
    )
    assert faulted["errorCode"] == "GroundFailure"
    assert central.statuses(1) == ["Available"]
