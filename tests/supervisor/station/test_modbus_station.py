"""Whole sessions on Modbus hardware: each board model with an SDM630, played by pymodbus servers.

The station runs for real (actors, API, publications); the controller and the meter are
pymodbus servers on loopback holding the models' register maps, and the car is the test.
"""

from __future__ import annotations

import dataclasses
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pymodbus.constants import ExcCodes

from drivers.clock import SystemClock
from supervisor.config import ConfigError, parse_config
from supervisor.config.devices import load_model
from supervisor.config.settings import ApiSettings
from tests.drivers.modbus.devices import Site, wait_until
from tests.live import LiveStation, embedded

TIME_SCALE = 3600.0  # the played meter counts an hour per second
SUPERVISION = """
station:
  chaos: true
  supervision:
    intensity: 3
    period_s: 30
    backoff_min_s: 0.01
    backoff_max_s: 0.2
    ping_interval_s: 0.1
    ping_timeout_s: {ping_timeout_s}
    device_loss_s: {device_loss_s}
"""
CONNECTOR = """
  - evse_id: DE*TST*E{index}
    max_current_a: 32
    board: {{driver: modbus, model: {board}, endpoint: "{board_endpoint}", timeout_s: {timeout_s},
             poll_interval_s: 0.05}}
    meter: {{driver: modbus, model: eastron_sdm630, endpoint: "{meter_endpoint}", timeout_s: {timeout_s},
             interval_s: {meter_interval_s}}}
"""


@dataclasses.dataclass
class ModbusStation:
    live: LiveStation
    sites: list[Site]


def station_text(sites: list[Site], boards: list[str], **options: Any) -> str:
    values = {"ping_timeout_s": 2, "device_loss_s": 30, "timeout_s": 0.3, "meter_interval_s": 0.2, **options}
    text = SUPERVISION.format(**values) + "connectors:\n"
    for index, (site, board) in enumerate(zip(sites, boards, strict=True), start=1):
        board_server, meter_server = site.servers
        text += CONNECTOR.format(
            index=index,
            board=board,
            board_endpoint=board_server.endpoint,
            meter_endpoint=meter_server.endpoint,
            timeout_s=values["timeout_s"],
            meter_interval_s=values["meter_interval_s"],
        )
    return text


def played_sites(boards: list[str], framing: str = "tcp") -> list[Site]:
    sites = []
    for board in boards:
        site = Site(SystemClock(), TIME_SCALE)
        site.serve(load_model(board), ("board",), framing=framing)
        site.serve(load_model("eastron_sdm630"), ("meter",), framing=framing)
        sites.append(site)
    return sites


def start(tmp_path: pathlib.Path, boards: list[str], framing: str = "tcp", **options: Any) -> ModbusStation:
    sites = played_sites(boards, framing)
    settings = parse_config(station_text(sites, boards, **options), str(tmp_path / "station.yaml"))
    api = ApiSettings(command_endpoint="tcp://127.0.0.1:*", publish_endpoint="tcp://127.0.0.1:*")
    return ModbusStation(
        LiveStation(embedded(dataclasses.replace(settings, api=api, state_dir=tmp_path))), sites
    )


@pytest.fixture
def bender_and_charx(tmp_path: pathlib.Path) -> Iterator[ModbusStation]:
    station = start(tmp_path, ["bender_cc613", "phoenix_charx"])
    yield station
    station.live.close()
    for site in station.sites:
        site.stop()


def charging(station: ModbusStation, index: int) -> None:
    station.live.subscriber.wait_for(
        "station/heartbeat", lambda v: v["evses"][index - 1]["state"] == "Charging", 10.0
    )


def session_started(station: ModbusStation, index: int) -> None:
    station.sites[index - 1].car.plugged = True  # the controller's CP register shows B
    station.live.subscriber.wait_event(index, "AuthRequired")
    assert station.live.client(timeout_s=8.0).authorize(index, f"CARD-{index}") is True
    station.live.subscriber.wait_event(index, "ChargingResumed")
    charging(station, index)


@pytest.mark.parametrize("index", [1, 2])
def test_a_whole_session_on_each_board_model_with_an_sdm630(
    bender_and_charx: ModbusStation, index: int
) -> None:
    station, site = bender_and_charx, bender_and_charx.sites[index - 1]
    session_started(station, index)
    assert ("current_limit_a", 32.0) in site.writes  # the limit, written as the controller's current register
    assert site.currents_a() == (32.0, 32.0, 32.0)
    station.live.subscriber.wait_for(
        f"evse/{index}/powermeter", lambda v: v["energy_Wh_import"]["total"] > 1000.0
    )
    site.car.plugged = False
    finished = station.live.subscriber.wait_event(index, "SessionFinished")["session_finished"]
    started = station.live.subscriber.wait_event(index, "SessionStarted")["session_started"]
    assert finished["energy_Wh_import"] > started["energy_Wh_import"] + 1000.0  # from the meter
    assert "signed_meter_value" not in finished  # an SDM630 cannot sign
    assert site.limit_a == 0.0


@pytest.mark.parametrize("fault", ["exception", "dropped"])
def test_a_device_fault_mid_charge_restarts_powers_off_and_charging_resumes(
    bender_and_charx: ModbusStation, fault: str
) -> None:
    station, site = bender_and_charx, bender_and_charx.sites[0]
    session_started(station, 1)
    if fault == "exception":
        site.faults.exception = ExcCodes.DEVICE_FAILURE
    else:
        site.servers[0].drop_connections()
    station.live.subscriber.wait_for(
        "station/supervision",
        lambda v: v["evse"] == 1 and v["actor"] == "hardware" and v["event"] == "crashed",
    )
    site.faults.exception = None
    station.live.subscriber.wait_for(
        "station/supervision",
        lambda v: v["evse"] == 1 and v["actor"] == "hardware" and v["event"] == "restarted",
    )
    charging(station, 1)
    wait_until(lambda: site.limit_a == 32.0, what="the limit written again")
    assert station.live.station.connector(1).tree.state != "gave_up"
    names = [e["value"]["event"] for e in station.live.client().get_events(1, 0)["events"]]
    assert names.count("SessionStarted") == 1 and "PermanentFault" not in names


def test_a_controller_away_for_5_s_is_not_given_up_and_charges_again(bender_and_charx: ModbusStation) -> None:
    station, site = bender_and_charx, bender_and_charx.sites[1]
    session_started(station, 2)
    site.faults.silent = True
    station.live.subscriber.wait_for(
        "station/supervision",
        lambda v: v["evse"] == 2 and v["actor"] == "hardware" and v["event"] == "crashed",
    )
    threading.Event().wait(5.0)  # the outage itself: the controller stays away for 5 s
    site.faults.silent = False
    charging(station, 2)
    wait_until(lambda: site.limit_a == 32.0, what="the limit written again")
    assert station.live.station.connector(2).tree.state != "gave_up"


def test_a_controller_away_past_device_loss_s_ends_in_permanent_fault(tmp_path: pathlib.Path) -> None:
    station = start(tmp_path, ["bender_cc613"], device_loss_s=1.5)
    try:
        session_started(station, 1)
        station.sites[0].faults.silent = True
        assert station.live.subscriber.wait_event(1, "PermanentFault")["error"] == "Internal"
        assert station.live.station.connector(1).tree.state == "gave_up"
    finally:
        station.live.close()
        station.sites[0].stop()


def test_a_slow_device_is_not_taken_for_a_hung_actor(tmp_path: pathlib.Path) -> None:
    station = start(tmp_path, ["phoenix_charx"], timeout_s=0.5, ping_timeout_s=3, meter_interval_s=1)
    try:
        for site in station.sites:
            site.faults.delay_s = 0.2  # every answer 0.2 s late
        session_started(station, 1)
        station.live.subscriber.wait_for("evse/1/powermeter", lambda v: v["energy_Wh_import"]["total"] > 0)
        events = station.live.subscriber.values("station/supervision")
        assert [e for e in events if e["event"] in ("hung", "crashed")] == []
    finally:
        station.live.close()
        station.sites[0].stop()


def test_rtu_framing_over_tcp_charges(tmp_path: pathlib.Path) -> None:
    station = start(tmp_path, ["bender_cc613"], framing="rtu")
    try:
        assert station.sites[0].servers[0].endpoint.startswith("rtu+tcp://")
        session_started(station, 1)
        assert station.sites[0].currents_a() == (32.0, 32.0, 32.0)
    finally:
        station.live.close()
        station.sites[0].stop()


def test_a_ping_timeout_shorter_than_the_longest_driver_call_is_refused(tmp_path: pathlib.Path) -> None:
    sites = played_sites(["bender_cc613"])
    try:
        text = station_text(sites, ["bender_cc613"], timeout_s=0.5, ping_timeout_s=1)
        with pytest.raises(ConfigError) as caught:
            parse_config(text, "station.yaml")
        assert caught.value.key == "station.supervision.ping_timeout_s" and caught.value.line == 10
        assert "4 requests of timeout_s 0.5 = 2 s" in caught.value.message
    finally:
        sites[0].stop()


def test_the_connector_uses_only_what_the_controller_can_do(bender_and_charx: ModbusStation) -> None:
    station, site = bender_and_charx, bender_and_charx.sites[0]
    client = station.live.client(timeout_s=8.0)
    session_started(station, 1)
    assert client.force_unlock(1) is False  # no lock
    assert client.switch_three_phases_while_charging(1, False) == "Error_NotSupported"  # no phase switching
    assert client.set_faulted(1) is True
    station.live.subscriber.wait_for("station/heartbeat", lambda v: v["evses"][0]["state"] == "Faulted")
    wait_until(lambda: site.limit_a == 0.0, what="the power off")  # no state F: X1, the limit 0
    assert site.cp() == "B"
    assert station.live.subscriber.values("evse/1/telemetry") == []  # no telemetry to publish
