"""The station against a central system over real WebSockets on loopback: boot, status, sessions."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.client import Client, evsectl
from supervisor.config.ocpp import OcppSettings
from tests.live import LiveStation, live_settings
from tests.supervisor.ocpp.central import CentralSystem


def ocpp_settings(central: CentralSystem, **changes: Any) -> OcppSettings:
    """Short timeouts and retries, so that the tests run in seconds."""
    settings = OcppSettings(
        url=central.url,
        charge_point_id="CP-1",
        meter_values_interval_s=1,
        response_timeout_s=5,  # a silent central system times out; a loaded machine does not
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
    names = [(name, p.get("connectorId"), p.get("status")) for name, p in central.calls]
    charging = next(i for i, (name, c, s) in enumerate(names) if c == 1 and s in ("Charging", "SuspendedEV"))
    assert names.index(("StartTransaction", 1, None)) < charging  # the transaction first
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


def test_pending_and_rejected_boots_are_retried_then_heartbeats(
    tmp_path: Path, central: CentralSystem
) -> None:
    central.boots = [("Pending", 1), ("Rejected", 1), ("Accepted", 1)]
    live = LiveStation(live_settings(tmp_path, ocpp=ocpp_settings(central, basic_auth_password="secret")))
    try:
        central.wait_for("Heartbeat")
        names = [name for name, _ in central.calls]
        assert names[:3] == ["BootNotification"] * 3 and names[3] == "StatusNotification"
        expected = "Basic " + base64.b64encode(b"CP-1:secret").decode()
        assert set(central.authorizations) == {expected}
    finally:
        live.close()


def test_status_and_evsectl_show_the_connection(
    station: LiveStation, central: CentralSystem, capsys: pytest.CaptureFixture[str]
) -> None:
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 2)
    ocpp = station.client().status()["ocpp"]
    assert ocpp["connected"] is True and ocpp["registration"] == "Accepted"
    assert ocpp["url"] == f"{central.url}/CP-1" and ocpp["queue_length"] == 0
    assert ocpp["last_message_at"] is not None
    endpoints = [
        "--endpoint",
        station.server.command_endpoint,
        "--publish-endpoint",
        station.server.publish_endpoint,
    ]
    assert evsectl.main([*endpoints, "status"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ocpp "))
    assert f"{central.url}/CP-1: connected (Accepted)" in line and "queue 0" in line


def test_a_cached_token_with_local_pre_authorize_needs_no_authorize_req(
    tmp_path: Path, central: CentralSystem
) -> None:
    central.tags["CARD-1"] = "Accepted"
    live = LiveStation(live_settings(tmp_path, ocpp=ocpp_settings(central, local_pre_authorize=True)))
    try:
        client = live.client()
        central.wait_for("StatusNotification", lambda p: p["connectorId"] == 2)  # booted
        assert client.authorize(2, "CARD-1") is True  # asked once: now in the cache
        assert client.authorize(1, "CARD-1") is True
        assert [p["idTag"] for p in central.of("Authorize")] == ["CARD-1"]
    finally:
        live.close()
