"""A SIGKILL of `evse-supervisor run` mid-session with the central system down, the car gone
meanwhile: back up, the station stops the transaction PowerLoss.

Real processes and files: the station (its journal and OCPP queue on disk), the central system
of the tests on loopback, the simulated plant in its own process (the hardware, which
outlives the station): the car is unplugged through the plant's endpoint while the station
is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.client import Client
from tests.supervisor.cli.running import RunningStation
from tests.supervisor.ocpp.central import CentralSystem, eventually

CONFIG = """
station:
  state_dir: {state_dir}
connectors:
  - evse_id: DE*PNX*E123456*1
  - evse_id: DE*PNX*E123456*2
ocpp:
  url: {url}
  charge_point_id: CP-KILL
  meter_values_interval_s: 1
  response_timeout_s: 5
  reconnect_min_s: 0.1
  reconnect_max_s: 0.5
  transaction_message_retry_interval_s: 0.2
"""


def plant_endpoint(state_dir: Path) -> str:
    return f"ipc://{state_dir}/plant.sock"


@pytest.fixture
def central() -> Iterator[CentralSystem]:
    system = CentralSystem().start()
    system.tags["CARD-1"] = "Accepted"
    yield system
    system.close()


def ocpp_of(client: Client) -> dict[str, Any]:
    status: dict[str, Any] = client.status()["ocpp"]
    return status


def test_a_kill_with_the_central_system_down_and_the_car_gone_stops_power_loss(
    tmp_path: Path, central: CentralSystem
) -> None:
    config = tmp_path / "station.yaml"
    state_dir = tmp_path / "state"
    config.write_text(CONFIG.format(state_dir=state_dir, url=central.url))
    first = RunningStation(state_dir, "--config", str(config))
    try:
        central.wait_for("StatusNotification", lambda p: p["connectorId"] == 2)
        with first.client as client:
            assert client.authorize(2, "CARD-1") is True  # in the cache from now on
            central.stop()
            eventually(lambda: not ocpp_of(client)["connected"], "disconnected")
            client.sim_plug_in(1)
            assert client.authorize(1, "CARD-1") is True
            eventually(lambda: ocpp_of(client)["queue_length"] >= 2, "the start queued")
        first.proc.kill()
        first.proc.wait(10)
        with Client(plant_endpoint(state_dir), timeout_s=10.0) as plant:
            assert plant.call("sim_unplug", 1) is True  # the car leaves while the station is down
        central.start()
        second = RunningStation(state_dir, "--config", str(config))
        try:
            stop = central.wait_for("StopTransaction")
            start = central.of("StartTransaction")[0]
            assert stop["reason"] == "PowerLoss" and stop["transactionId"] == central.given[0][0]
            assert (start["connectorId"], start["idTag"], stop["idTag"]) == (1, "CARD-1", "CARD-1")
            assert stop["meterStop"] >= start["meterStart"]
            assert len(central.of("StartTransaction")) == 1 and len(central.of("StopTransaction")) == 1
        finally:
            second.stop()
    finally:
        first.stop()
