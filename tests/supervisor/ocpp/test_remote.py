"""The central system runs the station: remote start and stop, reservations, unlock, the rest."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.v16 import call

from tests.live import LiveStation, in_seconds, live_settings
from tests.supervisor.ocpp.central import CentralSystem, eventually
from tests.supervisor.ocpp.test_bridge import ocpp_settings


@pytest.fixture
def central() -> Iterator[CentralSystem]:
    system = CentralSystem().start()
    system.tags.update({"CARD-A": "Accepted", "CARD-B": "Accepted", "CARD-R": "Accepted"})
    yield system
    system.close()


def started(central: CentralSystem, live: LiveStation) -> LiveStation:
    """Once the central system heard every connector's status (the bridge is online)."""
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == live.station.evse_count())
    return live


@pytest.fixture
def station(tmp_path: Path, central: CentralSystem) -> Iterator[LiveStation]:
    live = started(central, LiveStation(live_settings(tmp_path, ocpp=ocpp_settings(central))))
    yield live
    live.close()


def status_of(central: CentralSystem, connector_id: int, status: str) -> dict[str, Any]:
    return central.wait_for(
        "StatusNotification", lambda p: p["connectorId"] == connector_id and p["status"] == status
    )


def test_remote_start_on_an_idle_connector_then_plug_in_and_remote_stop(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    answer = central.send(call.RemoteStartTransaction(id_tag="CARD-R", connector_id=1))
    assert answer.status == "Accepted"
    status_of(central, 1, "Preparing")  # pre-authorized, no car yet
    assert central.of("Authorize") == []  # AuthorizeRemoteTxRequests is false
    client.call("sim_plug_in", 1)
    start = central.wait_for("StartTransaction")
    assert (start["connectorId"], start["idTag"]) == (1, "CARD-R")
    status_of(central, 1, "Charging")
    transaction_id = central.given[0][0]
    assert central.send(call.RemoteStopTransaction(transaction_id=transaction_id + 1)).status == "Rejected"
    assert central.send(call.RemoteStopTransaction(transaction_id=transaction_id)).status == "Accepted"
    stop = central.wait_for("StopTransaction")
    assert (stop["transactionId"], stop["reason"], stop["idTag"]) == (transaction_id, "Remote", "CARD-R")
    status_of(central, 1, "Finishing")  # the car is still plugged in


def test_remote_start_without_a_connector_takes_the_car_waiting(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    client.call("sim_plug_in", 2)
    status_of(central, 2, "Preparing")
    assert central.send(call.RemoteStartTransaction(id_tag="CARD-R")).status == "Accepted"
    start = central.wait_for("StartTransaction")
    assert (start["connectorId"], start["idTag"]) == (2, "CARD-R")
    assert central.send(call.RemoteStartTransaction(id_tag="CARD-R", connector_id=2)).status == "Rejected"
    assert central.send(call.RemoteStartTransaction(id_tag="CARD-R", connector_id=9)).status == "Rejected"


def test_remote_start_asks_the_central_system_when_authorize_remote_tx_requests(
    station: LiveStation, central: CentralSystem
) -> None:
    change = call.ChangeConfiguration(key="AuthorizeRemoteTxRequests", value="true")
    assert central.send(change).status == "Accepted"
    client = station.client()
    client.call("sim_plug_in", 1)
    assert central.send(call.RemoteStartTransaction(id_tag="CARD-X", connector_id=1)).status == "Accepted"
    assert central.wait_for("Authorize")["idTag"] == "CARD-X"  # Invalid: no transaction
    assert central.send(call.RemoteStartTransaction(id_tag="CARD-A", connector_id=1)).status == "Accepted"
    start = central.wait_for("StartTransaction")
    assert start["idTag"] == "CARD-A"
    assert [p["idTag"] for p in central.of("Authorize")] == ["CARD-X", "CARD-A"]


def test_a_reservation_used_by_its_id_tag_refused_to_another_then_cancelled(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    reserve = call.ReserveNow(connector_id=1, expiry_date=in_seconds(600), id_tag="CARD-A", reservation_id=5)
    assert central.send(reserve).status == "Accepted"
    status_of(central, 1, "Reserved")
    client.call("sim_plug_in", 1)
    assert client.authorize(1, "CARD-B") is False  # accepted by the central system, not the reservation
    assert client.authorize(1, "CARD-A") is True
    start = central.wait_for("StartTransaction")
    assert (start["idTag"], start["reservationId"]) == ("CARD-A", 5)
    other = call.ReserveNow(connector_id=2, expiry_date=in_seconds(600), id_tag="CARD-B", reservation_id=6)
    assert central.send(other).status == "Accepted"
    status_of(central, 2, "Reserved")
    assert central.send(call.CancelReservation(reservation_id=6)).status == "Accepted"
    eventually(lambda: central.statuses(2)[-1] == "Available", "connector 2 Available again")
    assert central.send(call.CancelReservation(reservation_id=6)).status == "Rejected"


def test_reserve_now_on_connector_0_is_rejected(station: LiveStation, central: CentralSystem) -> None:
    reserve = call.ReserveNow(connector_id=0, expiry_date=in_seconds(600), id_tag="CARD-A", reservation_id=1)
    assert central.send(reserve).status == "Rejected"
    occupied = call.ReserveNow(connector_id=1, expiry_date=in_seconds(600), id_tag="CARD-A", reservation_id=2)
    station.client().call("sim_plug_in", 1)
    status_of(central, 1, "Preparing")
    assert central.send(occupied).status == "Occupied"


def test_unlock_connector_unlocked_failed_and_not_supported(tmp_path: Path, central: CentralSystem) -> None:
    settings = live_settings(tmp_path, ocpp=ocpp_settings(central))
    fixed_cable = dataclasses.replace(settings.connectors[1], lock=False)
    live = started(
        central, LiveStation(dataclasses.replace(settings, connectors=(settings.connectors[0], fixed_cable)))
    )
    try:
        client = live.client()
        assert central.send(call.UnlockConnector(connector_id=2)).status == "NotSupported"
        assert central.send(call.UnlockConnector(connector_id=1)).status == "Unlocked"  # idle: opens
        client.call("sim_plug_in", 1)
        assert client.authorize(1, "CARD-A") is True
        central.wait_for("StartTransaction")
        client.sim_fault(1, "lock_failure")
        assert central.send(call.UnlockConnector(connector_id=1)).status == "UnlockFailed"
        failure = central.wait_for("StatusNotification", lambda p: p["errorCode"] == "ConnectorLockFailure")
        assert failure["connectorId"] == 1
        stop = central.wait_for("StopTransaction")
        assert stop["reason"] == "UnlockCommand"  # the session ends even when the lock stays shut
        client.call("sim_clear_fault", 1)
        assert central.send(call.UnlockConnector(connector_id=1)).status == "Unlocked"
        assert central.send(call.UnlockConnector(connector_id=3)).status == "NotSupported"
    finally:
        live.close()


def test_data_transfer_is_unknown_vendor_and_other_calls_not_implemented(
    station: LiveStation, central: CentralSystem
) -> None:
    assert central.send(call.DataTransfer(vendor_id="com.example")).status == "UnknownVendorId"
    with pytest.raises(OcppNotImplemented):
        central.send(call.GetDiagnostics(location="ftp://example.com/"))
    with pytest.raises(OcppNotImplemented):
        central.send(call.SendLocalList(list_version=1, update_type="Full"))
    assert central.send(call.ClearCache()).status == "Accepted"
    central.send(call.DataTransfer(vendor_id="com.example", message_id="x", data="y"))  # still answered
