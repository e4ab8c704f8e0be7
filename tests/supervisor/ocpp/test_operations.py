"""ChangeAvailability, Reset, Get/ChangeConfiguration and TriggerMessage from the central system."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from tests.live import LiveStation, live_settings, session_generation
from tests.supervisor.ocpp.central import CentralSystem, eventually
from tests.supervisor.ocpp.test_bridge import ocpp_settings
from tests.supervisor.ocpp.test_remote import started, status_of

SPEC_KEYS = {  # spec/ocpp.md's keys: read-only or not
    "HeartbeatInterval": False,
    "MeterValueSampleInterval": False,
    "MeterValuesSampledData": False,
    "ConnectionTimeOut": False,
    "LocalPreAuthorize": False,
    "LocalAuthorizeOffline": False,
    "AuthorizeRemoteTxRequests": False,
    "StopTransactionOnInvalidId": False,
    "StopTransactionOnEVSideDisconnect": True,
    "NumberOfConnectors": True,
    "ConnectorPhaseRotation": True,
    "TransactionMessageAttempts": False,
    "TransactionMessageRetryInterval": False,
}
CHANGES = {  # a new valid value of each writable key
    "HeartbeatInterval": "1",
    "MeterValueSampleInterval": "1",
    "MeterValuesSampledData": "Energy.Active.Import.Register",
    "ConnectionTimeOut": "20",
    "LocalPreAuthorize": "true",
    "LocalAuthorizeOffline": "false",
    "AuthorizeRemoteTxRequests": "true",
    "StopTransactionOnInvalidId": "false",
    "TransactionMessageAttempts": "5",
    "TransactionMessageRetryInterval": "2",
}


@pytest.fixture
def central() -> Iterator[CentralSystem]:
    system = CentralSystem().start()
    system.tags.update({"CARD-A": "Accepted"})
    yield system
    system.close()


@pytest.fixture
def station(tmp_path: Path, central: CentralSystem) -> Iterator[LiveStation]:
    live = started(central, LiveStation(live_settings(tmp_path, ocpp=ocpp_settings(central))))
    yield live
    live.close()


def charging(live: LiveStation, central: CentralSystem, evse: int = 1) -> dict[str, Any]:
    client = live.client()
    client.call("sim_plug_in", evse)
    assert client.authorize(evse, "CARD-A") is True
    start = central.wait_for("StartTransaction", lambda p: p["connectorId"] == evse)
    status_of(central, evse, "Charging")
    # the station holds the transaction id once the StartTransaction's answer left its queue
    eventually(lambda: client.status()["ocpp"]["queue_length"] == 0, "the StartTransaction answered")
    return start


def availability(central: CentralSystem, connector_id: int, kind: str) -> str:
    return str(central.send(call.ChangeAvailability(connector_id=connector_id, type=kind)).status)


# --- availability --------------------------------------------------------------------------------


def test_inoperative_during_a_session_is_scheduled_and_applied_at_its_end(
    station: LiveStation, central: CentralSystem
) -> None:
    charging(station, central)
    assert availability(central, 1, "Inoperative") == "Scheduled"
    client = station.client()
    assert client.status()["evses"][0]["state"] == "Charging"  # the transaction goes on
    client.call("sim_unplug", 1)
    stop = central.wait_for("StopTransaction")
    assert stop["reason"] == "EVDisconnected"
    status_of(central, 1, "Unavailable")
    assert station.client().status()["evses"][0]["state"] == "Disabled"
    assert availability(central, 1, "Operative") == "Accepted"
    assert central.wait_statuses(1, ["Charging", "Unavailable", "Available"])[-1] == "Available"


def test_inoperative_when_idle_is_accepted_connector_0_is_every_connector(
    station: LiveStation, central: CentralSystem
) -> None:
    assert availability(central, 2, "Inoperative") == "Accepted"
    status_of(central, 2, "Unavailable")
    assert availability(central, 0, "Inoperative") == "Accepted"
    status_of(central, 1, "Unavailable")
    status_of(central, 0, "Unavailable")
    assert availability(central, 0, "Operative") == "Accepted"
    central.wait_statuses(1, ["Unavailable", "Available"])
    central.wait_statuses(2, ["Unavailable", "Available"])
    central.wait_statuses(0, ["Unavailable", "Available"])
    assert availability(central, 3, "Inoperative") == "Rejected"


def test_a_scheduled_change_outlives_a_restart(tmp_path: Path, central: CentralSystem) -> None:
    settings = live_settings(tmp_path, ocpp=ocpp_settings(central))
    live = started(central, LiveStation(settings))
    try:
        charging(live, central)
        assert availability(central, 1, "Inoperative") == "Scheduled"
    finally:
        live.close()
    central.calls.clear()
    again = started(central, LiveStation(settings))  # the car is gone: the transaction ended
    try:
        assert central.wait_for("StopTransaction")["reason"] == "PowerLoss"
        status_of(central, 1, "Unavailable")
        assert again.client().status()["evses"][0]["state"] == "Disabled"
    finally:
        again.close()


# --- reset -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Soft", "Hard"])
def test_a_reset_during_a_session_stops_it_restarts_the_connectors_and_boots_again(
    station: LiveStation, central: CentralSystem, kind: str
) -> None:
    client = station.client()
    start = charging(station, central)
    generations = [session_generation(client, evse) for evse in (1, 2)]
    assert central.send(call.Reset(type=kind)).status == "Accepted"
    stop = central.wait_for("StopTransaction")
    assert (stop["transactionId"], stop["reason"]) == (central.given[0][0], f"{kind}Reset")
    assert stop["meterStop"] >= start["meterStart"]
    central.wait_count("BootNotification", 2)
    assert central.paths == ["/CP-1", "/CP-1"]  # a new connection
    station.wait_until(
        lambda: all(session_generation(client, e) > g for e, g in zip((1, 2), generations, strict=True)),
        "the connectors restarted",
    )
    eventually(
        lambda: _statuses_since_last_boot(central)[:3] == [0, 1, 2], "every status again after the new boot"
    )
    status_of(central, 1, "Finishing")  # the car is still plugged in, its session ended
    client.call("sim_unplug", 1)
    central.wait_statuses(1, ["Finishing", "Available"])


def _statuses_since_last_boot(central: CentralSystem) -> list[int]:
    calls = list(central.calls)
    last_boot = max(i for i, (name, _) in enumerate(calls) if name == "BootNotification")
    return [p["connectorId"] for name, p in calls[last_boot:] if name == "StatusNotification"]


# --- configuration ---------------------------------------------------------------------------------


def configuration(central: CentralSystem, *keys: str) -> tuple[dict[str, tuple[str, bool]], list[str]]:
    answer = central.send(call.GetConfiguration(key=list(keys) or None))
    known = {entry["key"]: (entry.get("value"), entry["readonly"]) for entry in answer.configuration_key}
    return known, list(answer.unknown_key or [])


def test_every_listed_key_read_and_changed(station: LiveStation, central: CentralSystem) -> None:
    known, unknown = configuration(central)
    assert unknown == []
    assert {key: known[key][1] for key in SPEC_KEYS} == SPEC_KEYS
    assert known["NumberOfConnectors"][0] == "2"
    assert known["ConnectorPhaseRotation"][0] == "1.RST,2.RST"
    assert known["StopTransactionOnEVSideDisconnect"][0] == "true"
    assert known["MeterValueSampleInterval"][0] == "1"
    assert known["TransactionMessageAttempts"][0] == "3"
    for key, value in CHANGES.items():
        assert central.send(call.ChangeConfiguration(key=key, value=value)).status == "Accepted", key
    changed, _ = configuration(central, *CHANGES)
    assert {key: value for key, (value, _) in changed.items()} == CHANGES
    for key in (k for k, read_only in SPEC_KEYS.items() if read_only):
        assert central.send(call.ChangeConfiguration(key=key, value="1")).status == "Rejected", key
    for key, bad in (
        ("HeartbeatInterval", "often"),
        ("LocalPreAuthorize", "yes"),
        ("MeterValuesSampledData", "Voltage"),
    ):
        assert central.send(call.ChangeConfiguration(key=key, value=bad)).status == "Rejected", key
    assert central.send(call.ChangeConfiguration(key="NoSuchKey", value="1")).status == "NotSupported"
    some, unknown = configuration(central, "HeartbeatInterval", "NoSuchKey", "Other")
    assert list(some) == ["HeartbeatInterval"] and unknown == ["NoSuchKey", "Other"]


def test_meter_value_sample_interval_and_sampled_data_take_effect_and_are_kept(
    tmp_path: Path, central: CentralSystem
) -> None:
    settings = live_settings(tmp_path, ocpp=ocpp_settings(central, meter_values_interval_s=3600))
    live = started(central, LiveStation(settings))
    try:
        charging(live, central)
        assert (
            central.send(call.ChangeConfiguration(key="MeterValueSampleInterval", value="1")).status
            == "Accepted"
        )
        first = central.wait_for("MeterValues", _periodic)
        assert {v["measurand"] for v in first["meterValue"][0]["sampledValue"]} >= {
            "Energy.Active.Import.Register",
            "Current.Import",
        }
        only_energy = call.ChangeConfiguration(
            key="MeterValuesSampledData", value="Energy.Active.Import.Register"
        )
        assert central.send(only_energy).status == "Accepted"
        later = central.wait_for(
            "MeterValues", lambda p: _periodic(p) and len(p["meterValue"][0]["sampledValue"]) == 1
        )
        assert later["meterValue"][0]["sampledValue"][0]["measurand"] == "Energy.Active.Import.Register"
        assert central.send(call.ChangeConfiguration(key="HeartbeatInterval", value="1")).status == "Accepted"
        central.wait_count("Heartbeat", 2)
    finally:
        live.close()
    again = started(central, LiveStation(settings))
    try:
        kept, _ = configuration(central, "MeterValueSampleInterval", "MeterValuesSampledData")
        assert kept == {
            "MeterValueSampleInterval": ("1", False),
            "MeterValuesSampledData": ("Energy.Active.Import.Register", False),
        }
    finally:
        again.close()


def _periodic(payload: dict[str, Any]) -> bool:
    return bool(payload["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Periodic")


# --- triggers --------------------------------------------------------------------------------------


def trigger(central: CentralSystem, message: str, connector_id: int | None = None) -> str:
    return str(central.send(call.TriggerMessage(requested_message=message, connector_id=connector_id)).status)


def test_trigger_message_of_each_supported_message(station: LiveStation, central: CentralSystem) -> None:
    charging(station, central)
    assert trigger(central, "BootNotification") == "Accepted"
    central.wait_count("BootNotification", 2)
    assert trigger(central, "Heartbeat") == "Accepted"
    central.wait_count("Heartbeat", 1)  # the interval is 300 s: this one was asked for
    before = len([p for p in central.of("StatusNotification") if p["connectorId"] == 1])
    assert trigger(central, "StatusNotification", 1) == "Accepted"
    again = central.wait_count("StatusNotification", before + 1, lambda p: p["connectorId"] == 1)
    assert again[-1]["status"] == "Charging"
    assert trigger(central, "MeterValues", 1) == "Accepted"
    triggered = central.wait_for(
        "MeterValues", lambda p: p["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    )
    assert (triggered["connectorId"], triggered["transactionId"]) == (1, central.given[0][0])
    assert trigger(central, "DiagnosticsStatusNotification") == "NotImplemented"
    assert trigger(central, "FirmwareStatusNotification") == "NotImplemented"
    assert trigger(central, "StatusNotification", 7) == "Rejected"
