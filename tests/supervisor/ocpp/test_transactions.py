"""Sessions as OCPP transactions: authorization, meter values, signed readings, refusals."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from pyocmf import OCMF, IssueCode, IssueSeverity

from supervisor.client import ApiError, Client
from supervisor.ocpp.payloads import ocmf_energy_wh
from tests.live import LiveStation, in_seconds, live_settings
from tests.supervisor.ocpp.central import CentralSystem
from tests.supervisor.ocpp.test_bridge import ocpp_settings

RFID_UID = "04A2B3C4D5E6F7"  # a 7-byte ISO 14443 UID, as an OCMF verifier expects of IT ISO14443


@pytest.fixture
def central() -> Iterator[CentralSystem]:
    system = CentralSystem().start()
    system.tags.update({"CARD-OK": "Accepted", "CARD-BLOCKED": "Blocked", RFID_UID: "Accepted"})
    yield system
    system.close()


@pytest.fixture
def station(tmp_path: Path, central: CentralSystem) -> Iterator[LiveStation]:
    live = LiveStation(live_settings(tmp_path, ocpp=ocpp_settings(central)))
    central.wait_for("StatusNotification", lambda p: p["connectorId"] == 2)
    yield live
    live.close()


def finished_energy_wh(client: Client, evse: int) -> float:
    events = client.get_events(evse)["events"]
    finished = [e["value"] for e in events if e["value"]["event"] == "SessionFinished"]
    return float(finished[-1]["session_finished"]["energy_Wh_import"])


def der_hex(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()


def signed_values(stop: dict[str, Any]) -> dict[str, str]:
    """The SignedData values of a StopTransaction's transactionData, by context."""
    values = [v for entry in stop["transactionData"] for v in entry["sampledValue"]]
    assert all(
        v["format"] == "SignedData" and v["measurand"] == "Energy.Active.Import.Register" for v in values
    )
    return {v["context"]: v["value"] for v in values}


def test_a_session_by_rfid_refused_then_accepted_stopped_by_unplug(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    client.call("sim_plug_in", 1)
    assert client.authorize(1, "CARD-UNKNOWN") is False
    assert client.authorize(1, "CARD-BLOCKED") is False
    assert client.authorize(1, "CARD-OK") is True
    assert [p["idTag"] for p in central.of("Authorize")] == ["CARD-UNKNOWN", "CARD-BLOCKED", "CARD-OK"]
    start = central.wait_for("StartTransaction")
    begin = client.get_signed_meter_value(1, "begin")
    assert (start["connectorId"], start["idTag"]) == (1, "CARD-OK")
    begin_wh = ocmf_energy_wh(begin)
    assert begin_wh is not None and start["meterStart"] == round(begin_wh)
    samples = central.wait_count("MeterValues", 2, _periodic)
    energies = [float(p["meterValue"][0]["sampledValue"][0]["value"]) for p in samples]
    assert start["meterStart"] <= energies[0] <= energies[1]
    transaction_id = 101
    assert all(p["transactionId"] == transaction_id for p in central.of("MeterValues"))
    measured = {(v["measurand"], v.get("phase")) for v in samples[0]["meterValue"][0]["sampledValue"]}
    assert measured >= {
        ("Energy.Active.Import.Register", None),
        ("Power.Active.Import", None),
        ("Current.Import", "L1"),
        ("Current.Import", "L2"),
        ("Current.Import", "L3"),
    }
    client.call("sim_unplug", 1)
    stop = central.wait_for("StopTransaction")
    assert (stop["transactionId"], stop["reason"], stop["idTag"]) == (
        transaction_id,
        "EVDisconnected",
        "CARD-OK",
    )
    assert stop["meterStop"] == round(finished_energy_wh(client, 1))
    assert stop["meterStop"] > start["meterStart"]
    assert [name for name, _ in central.calls if name in ("StartTransaction", "StopTransaction")] == [
        "StartTransaction",
        "StopTransaction",
    ]


def _periodic(payload: dict[str, Any]) -> bool:
    return bool(payload["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Periodic")


def test_signed_begin_and_end_pass_the_ocmf_transaction_check(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    client.call("sim_plug_in", 1)
    assert client.authorize(1, RFID_UID) is True
    central.wait_for("MeterValues", _periodic)
    client.call("sim_unplug", 1)
    signed = signed_values(central.wait_for("StopTransaction"))
    key = der_hex(client.status()["evses"][0]["meter_public_key"])
    begin, end = OCMF.from_string(signed["Transaction.Begin"]), OCMF.from_string(signed["Transaction.End"])
    assert begin.verify_signature(key) and end.verify_signature(key)
    assert (begin.payload.ID, end.payload.ID) == (RFID_UID, RFID_UID)
    assert (begin.payload.RD[0].TX, end.payload.RD[0].TX) == ("B", "E")
    issues = begin.check_eichrecht(end)
    assert [i for i in issues if i.code is IssueCode.ID_MISMATCH] == []
    assert [i for i in issues if i.severity is IssueSeverity.ERROR] == [], issues
    contexts = [v["context"] for p in central.of("MeterValues") for v in p["meterValue"][0]["sampledValue"]]
    assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"


def test_a_refused_start_transaction_stops_it_deauthorized(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    client.call("sim_plug_in", 1)
    assert client.authorize(1, "CARD-OK") is True
    central.tags["CARD-OK"] = "Blocked"  # the answer to StartTransaction refuses it
    central.wait_for("StartTransaction")
    stop = central.wait_for("StopTransaction")
    assert stop["reason"] == "DeAuthorized"
    assert client.status()["evses"][0]["state"] == "ChargingPausedEVSE"


def test_parent_id_tag_becomes_the_sessions_parent_id(station: LiveStation, central: CentralSystem) -> None:
    client = station.client()
    central.tags["CARD-KID"] = "Accepted"
    central.parents["CARD-KID"] = "FAMILY"
    assert client.reserve_now(1, 7, "CARD-MUM", in_seconds(600), parent_id="FAMILY") == "Accepted"
    client.call("sim_plug_in", 1)
    assert client.authorize(1, "CARD-KID") is True  # admitted by the reservation's parent id
    start = central.wait_for("StartTransaction")
    assert start["reservationId"] == 7


def test_an_id_tag_over_20_characters_is_bad_args(station: LiveStation, central: CentralSystem) -> None:
    client = station.client()
    with pytest.raises(ApiError) as raised:
        client.authorize(1, "X" * 21)
    assert raised.value.code == "bad_args" and "20" in str(raised.value)
    assert central.of("Authorize") == []


def test_a_free_charging_session_is_a_transaction_of_free_stopped_local_by_disable(
    tmp_path: Path, central: CentralSystem
) -> None:
    settings = live_settings(tmp_path, ocpp=ocpp_settings(central))
    free = dataclasses.replace(settings.connectors[1], free_charging=True)
    live = LiveStation(dataclasses.replace(settings, connectors=(settings.connectors[0], free)))
    try:
        client = live.client()
        client.call("sim_plug_in", 2)
        start = central.wait_for("StartTransaction")
        assert (start["connectorId"], start["idTag"]) == (2, "FREE") and central.of("Authorize") == []
        assert client.disable(2) is True
        stop = central.wait_for("StopTransaction")
        assert (stop["reason"], stop["idTag"]) == ("Local", "FREE")
        central.wait_for(
            "StatusNotification", lambda p: p["connectorId"] == 2 and p["status"] == "Unavailable"
        )
    finally:
        live.close()
