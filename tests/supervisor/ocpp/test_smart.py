"""Smart charging from the central system: profiles → the connectors' `limits`, composite schedules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from tests.live import LiveStation, live_settings
from tests.supervisor.ocpp.central import CentralSystem
from tests.supervisor.ocpp.test_bridge import ocpp_settings
from tests.supervisor.ocpp.test_operations import charging
from tests.supervisor.ocpp.test_remote import started


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


def profile(
    profile_id: int, purpose: str, limit: float, stack_level: int = 0, unit: str = "A", **extra: Any
) -> dict[str, Any]:
    return {
        "charging_profile_id": profile_id,
        "stack_level": stack_level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": unit,
            "charging_schedule_period": [{"start_period": 0, "limit": limit}],
        },
        **extra,
    }


def set_profile(central: CentralSystem, connector_id: int, body: dict[str, Any]) -> str:
    return str(
        central.send(call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=body)).status
    )


def clear(central: CentralSystem, **criteria: Any) -> str:
    return str(central.send(call.ClearChargingProfile(**criteria)).status)


def limit_becomes(live: LiveStation, evse: int, amperes: float) -> None:
    """Once the connector's last `limits` publication says `amperes`."""
    topic = f"evse/{evse}/limits"

    def last_is() -> bool:
        values = live.subscriber.values(topic)
        return bool(values) and values[-1]["max_current"] == amperes

    live.wait_until(last_is, f"evse {evse} limited to {amperes} A")


def composite(central: CentralSystem, connector_id: int, unit: str | None = None) -> list[tuple[int, float]]:
    answer = central.send(
        call.GetCompositeSchedule(connector_id=connector_id, duration=3600, charging_rate_unit=unit)
    )
    assert answer.status == "Accepted" and answer.connector_id == connector_id
    periods = answer.charging_schedule["charging_schedule_period"]
    return [(p["start_period"], p["limit"]) for p in periods]


def test_a_tx_profile_limits_its_transaction_a_higher_stack_level_wins_clearing_restores(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    assert client.set_local_max_current(1, 16) == "Success"
    charging(station, central)
    limit_becomes(station, 1, 16)
    assert set_profile(central, 2, profile(1, "TxProfile", 10)) == "Rejected"  # no transaction there
    wrong = profile(1, "TxProfile", 10, transaction_id=central.given[0][0] + 7)
    assert set_profile(central, 1, wrong) == "Rejected"
    assert set_profile(central, 1, profile(1, "TxProfile", 10)) == "Accepted"
    limit_becomes(station, 1, 10)
    assert composite(central, 1) == [(0, 10.0)]
    assert set_profile(central, 1, profile(2, "TxProfile", 8, stack_level=1)) == "Accepted"
    limit_becomes(station, 1, 8)
    assert composite(central, 1) == [(0, 8.0)]
    assert clear(central, id=2) == "Accepted"
    limit_becomes(station, 1, 10)
    assert clear(central, connector_id=1, charging_profile_purpose="TxProfile") == "Accepted"
    limit_becomes(station, 1, 16)  # exactly the limit before: the local one
    assert clear(central, id=1) == "Unknown"
    assert composite(central, 1) == [(0, 32.0)]  # the connector's maximum: no profile binds it
    energy = client.status()["energy"]
    assert energy["evses"][0]["allocated_a"] is None and energy["sources"]["ocpp"] is None


def test_a_tx_profile_ends_with_its_transaction(station: LiveStation, central: CentralSystem) -> None:
    client = station.client()
    charging(station, central)
    assert set_profile(central, 1, profile(1, "TxProfile", 10)) == "Accepted"
    limit_becomes(station, 1, 10)
    client.call("sim_unplug", 1)
    central.wait_for("StopTransaction")
    station.wait_until(lambda: composite(central, 1) == [(0, 32.0)], "the TxProfile gone")
    charging(station, central)
    limit_becomes(station, 1, 32)


def test_a_tx_default_profile_on_connector_0_applies_to_every_connector(
    station: LiveStation, central: CentralSystem
) -> None:
    assert set_profile(central, 0, profile(3, "TxDefaultProfile", 12)) == "Accepted"
    charging(station, central, 1)
    charging(station, central, 2)
    limit_becomes(station, 1, 12)
    limit_becomes(station, 2, 12)
    assert composite(central, 2) == [(0, 12.0)]
    assert set_profile(central, 2, profile(4, "TxDefaultProfile", 9)) == "Accepted"  # its own wins
    limit_becomes(station, 2, 9)
    assert composite(central, 1) == [(0, 12.0)]


def test_a_profile_in_w_is_converted_at_230_v_per_phase(station: LiveStation, central: CentralSystem) -> None:
    charging(station, central)
    assert set_profile(central, 1, profile(5, "TxProfile", 6900, unit="W")) == "Accepted"  # 3 phases
    limit_becomes(station, 1, 10)
    assert composite(central, 1, "W") == [(0, 6900.0)]
    assert composite(central, 1, "A") == [(0, 10.0)]
    one_phase = profile(6, "TxProfile", 2300, stack_level=1, unit="W")
    one_phase["charging_schedule"]["charging_schedule_period"][0]["number_phases"] = 1
    assert set_profile(central, 1, one_phase) == "Accepted"
    limit_becomes(station, 1, 10)  # 2300 W on one phase is 10 A
    assert set_profile(central, 1, profile(7, "TxProfile", 4140, stack_level=2, unit="W")) == "Accepted"
    limit_becomes(station, 1, 6)


def test_charge_point_max_profile_caps_the_sum_of_the_connectors_limits(
    station: LiveStation, central: CentralSystem
) -> None:
    client = station.client()
    charging(station, central, 1)
    charging(station, central, 2)
    assert set_profile(central, 1, profile(8, "ChargePointMaxProfile", 20)) == "Rejected"  # connector 0 only
    assert set_profile(central, 0, profile(8, "ChargePointMaxProfile", 20)) == "Accepted"
    limit_becomes(station, 1, 10)
    limit_becomes(station, 2, 10)
    energy = client.status()["energy"]
    assert energy["sources"]["ocpp"] == 20 and energy["grid_max_current_a"] == 20
    assert sum(e["allocated_a"] for e in energy["evses"]) <= 20
    assert composite(central, 0) == [(0, 20.0)]
    assert clear(central, charging_profile_purpose="ChargePointMaxProfile") == "Accepted"
    limit_becomes(station, 1, 32)
    limit_becomes(station, 2, 32)
    assert client.status()["energy"]["sources"]["ocpp"] is None


def test_a_schedule_in_periods_is_the_composite_schedule(
    station: LiveStation, central: CentralSystem
) -> None:
    body = profile(9, "TxDefaultProfile", 16)
    body["charging_profile_kind"] = "Absolute"
    body["charging_schedule"]["start_schedule"] = "2020-01-01T00:00:00Z"
    body["charging_schedule"]["charging_schedule_period"] = [
        {"start_period": 0, "limit": 16},
    ]
    assert set_profile(central, 1, body) == "Accepted"
    relative = profile(10, "TxDefaultProfile", 20, stack_level=1)
    relative["charging_schedule"]["duration"] = 600
    relative["charging_schedule"]["charging_schedule_period"].append({"start_period": 300, "limit": 8})
    assert set_profile(central, 1, relative) == "Accepted"
    assert composite(central, 1) == [(0, 20.0), (300, 8.0), (600, 16.0)]
    charging(station, central)
    limit_becomes(station, 1, 20)
    assert set_profile(central, 3, body) == "Rejected"
    bad = profile(11, "TxDefaultProfile", 16)
    bad["charging_schedule"]["charging_schedule_period"][0]["start_period"] = 5
    assert set_profile(central, 1, bad) == "Rejected"


def test_remote_start_with_a_charging_profile_limits_its_transaction(
    station: LiveStation, central: CentralSystem
) -> None:
    central.tags["CARD-R"] = "Accepted"
    body = profile(12, "TxProfile", 7)
    answer = central.send(call.RemoteStartTransaction(id_tag="CARD-R", connector_id=1, charging_profile=body))
    assert answer.status == "Accepted"
    station.client().call("sim_plug_in", 1)
    central.wait_for("StartTransaction")
    limit_becomes(station, 1, 7)
