"""A SIGKILL of `evse-supervisor run`, then a start on the same state dir: nothing lost.

Real processes and files: the station (its journal on disk) and the plant it started, which
outlives the kill with the car still plugged in and the meter counting, as hardware does.
What the car does while the station is down is played on the plant's own endpoint.
"""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import zmq

from supervisor.client import Client
from supervisor.journal.kill_hook import KILL_AFTER_ENV
from supervisor.plant.launch import call
from tests.live import ask, in_seconds
from tests.supervisor.cli.running import RunningStation, wait_until
from tests.supervisor.plant.plants import WAIT_S, PlantProcess

TOKEN = "CARD-1"


class Site:
    """A state dir whose station is started, killed and started again; its plant goes at the end."""

    def __init__(self, tmp_path: pathlib.Path) -> None:
        self.state_dir = tmp_path / "state"
        self.plant_endpoint = f"ipc://{self.state_dir}/plant.sock"
        self.stations: list[RunningStation] = []

    def start(self) -> Client:
        station = RunningStation(self.state_dir)  # the embedded default: two simulated connectors
        self.stations.append(station)
        return station.client

    def kill(self) -> None:
        station = self.stations[-1]
        station.proc.kill()
        station.proc.wait(WAIT_S)
        station.stop()

    def plant(self, cmd: str, evse: int, **args: Any) -> Any:
        return call(self.plant_endpoint, cmd, WAIT_S, evse=evse, args=args)

    def close(self) -> None:
        for station in self.stations:
            station.stop()
        call(self.plant_endpoint, "plant_stop", 2.0)


@pytest.fixture
def site(tmp_path: pathlib.Path) -> Iterator[Site]:
    running = Site(tmp_path)
    yield running
    running.close()


def events(client: Client, evse: int, since: int = 0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get_events(evse, since)["events"]
    return found


def names(found: list[dict[str, Any]]) -> list[str]:
    return [e["value"]["event"] for e in found]


def wait_event(client: Client, evse: int, name: str, since: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: next((e for e in events(client, evse, since) if e["value"]["event"] == name), None),
        f"{name} on evse {evse}",
    )
    return found


def energy_wh(client: Client, evse: int) -> float:
    """The meter's register as the station's snapshot shows it."""
    meter = wait_until(lambda: client.snapshot()["vars"].get(f"evse/{evse}/powermeter"), "a meter reading")
    return float(meter["energy_Wh_import"]["total"])


def charging(client: Client) -> str:
    """A session charging on connector 1; its uuid."""
    assert client.sim_plug_in(1) is True
    assert client.authorize(1, TOKEN) is True
    started = wait_event(client, 1, "ChargingStarted")
    return str(started["value"]["uuid"])


def test_a_kill_mid_charge_takes_the_session_up_and_loses_no_event(site: Site) -> None:
    client = site.start()
    session_uuid = charging(client)
    before = events(client, 1)
    energy_before = energy_wh(client, 1)
    site.kill()
    client = site.start()
    assert energy_wh(client, 1) >= energy_before
    resumed = wait_event(client, 1, "ChargingResumed", before[-1]["event_seq"])
    after = events(client, 1)
    assert after[: len(before)] == before  # every event once, across the kill
    assert [e["event_seq"] for e in after] == list(range(1, len(after) + 1))
    assert names(after).count("SessionStarted") == 1
    assert resumed["value"]["uuid"] == session_uuid
    assert client.sim_unplug(1) is True
    finished = wait_event(client, 1, "SessionFinished")
    assert finished["value"]["uuid"] == session_uuid


def test_a_car_unplugged_while_the_station_is_down_finishes_the_session(site: Site) -> None:
    client = site.start()
    session_uuid = charging(client)
    last_seq = events(client, 1)[-1]["event_seq"]
    site.kill()
    assert site.plant("sim_unplug", 1) is True  # through the plant's own endpoint
    client = site.start()
    finished = wait_event(client, 1, "SessionFinished", last_seq)
    assert finished["value"]["uuid"] == session_uuid and finished["event_seq"] == last_seq + 1


def test_another_car_plugged_in_while_down_finishes_the_old_session_and_starts_a_new_one(site: Site) -> None:
    client = site.start()
    session_uuid = charging(client)
    last_seq = events(client, 1)[-1]["event_seq"]
    site.kill()
    assert site.plant("sim_unplug", 1) is True
    assert site.plant("sim_plug_in", 1) is True
    client = site.start()
    wait_event(client, 1, "AuthRequired", last_seq)
    new = events(client, 1, last_seq)
    assert names(new) == ["SessionFinished", "SessionStarted", "AuthRequired"]
    assert new[0]["value"]["uuid"] == session_uuid and new[1]["value"]["uuid"] != session_uuid


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_sigterm_stops_the_station_and_the_plant_it_started(site: Site) -> None:
    client = site.start()
    plant_pid = int(client.status()["plant"]["pid"])
    began = time.monotonic()
    assert site.stations[-1].stop() == 0
    assert time.monotonic() - began < 5.0
    wait_until(lambda: gone(plant_pid), "the plant stopped")


def test_sigterm_leaves_a_plant_that_ran_before_the_station(site: Site) -> None:
    plant = PlantProcess(site.state_dir)
    try:
        client = site.start()
        assert client.status()["plant"]["pid"] == plant.proc.pid
        assert site.stations[-1].stop() == 0
        assert plant.ping() is not None and plant.proc.poll() is None
    finally:
        plant.stop()


def test_a_decision_killed_before_its_publication_is_published_once_after_the_restart(site: Site) -> None:
    env = {KILL_AFTER_ENV: "SessionFinished"}  # the station dies right after journaling the decision
    site.stations.append(RunningStation(site.state_dir, env=env))
    session_uuid = charging(site.stations[-1].client)
    last_seq = events(site.stations[-1].client, 1)[-1]["event_seq"]
    assert site.plant("sim_unplug", 1) is True
    assert site.stations[-1].proc.wait(WAIT_S) == -9  # killed between the decision and its publication
    client = site.start()
    finished = wait_event(client, 1, "SessionFinished", last_seq)
    assert finished["value"]["uuid"] == session_uuid and finished["event_seq"] == last_seq + 1
    assert names(events(client, 1)).count("SessionFinished") == 1


def test_reservations_are_kept_or_expire_by_wall_clock_time_across_a_kill(site: Site) -> None:
    client = site.start()
    soon = time.time() + 2.0
    assert client.reserve_now(1, 11, TOKEN, in_seconds(2.0)) == "Accepted"
    assert client.reserve_now(2, 12, TOKEN, in_seconds(3600)) == "Accepted"
    seq_2 = events(client, 2)[-1]["event_seq"]
    site.kill()
    threading.Event().wait(max(0.0, soon - time.time()))  # the first one expires while down
    client = site.start()
    ended = wait_event(client, 1, "ReservationEnd")
    assert ended["value"]["reservation_end"] == {"reason": "Expired", "reservation_id": 11}
    assert events(client, 2, seq_2) == []  # kept: no new ReservationStart, no end
    assert client.cancel_reservation(2) is True  # the kept reservation is the one cancelled
    cancelled = wait_event(client, 2, "ReservationEnd", seq_2)
    assert cancelled["value"]["reservation_end"] == {"reason": "Cancelled", "reservation_id": 12}


def test_disabled_faulted_and_a_local_limit_survive_a_kill(site: Site) -> None:
    client = site.start()
    assert client.disable(1) is True
    assert client.set_local_max_current(2, 10) == "Success"
    site.kill()
    client = site.start()
    wait_until(lambda: client.list_evses()[0]["state"] == "Disabled", "evse 1 still Disabled")
    limits = wait_until(lambda: client.snapshot()["vars"].get("evse/2/limits"), "evse 2's limits published")
    assert limits["max_current"] <= 10
    assert client.set_faulted(2) is True
    site.kill()
    client = site.start()
    states = wait_until(lambda: [e["state"] for e in client.list_evses()] or None, "the connectors")
    assert states == ["Disabled", "Faulted"]


def test_a_retried_request_after_a_kill_gets_its_stored_reply_and_runs_nothing(site: Site) -> None:
    client = site.start()
    request = {
        "v": 1,
        "id": 77,
        "client": "retrying-client",
        "cmd": "reserve_now",
        "evse": 1,
        "args": {"reservation_id": 5, "auth_token": TOKEN, "expiry_date": in_seconds(3600)},
    }
    endpoint = site.stations[-1].command
    first = raw_request(endpoint, request)
    assert first == {"v": 1, "id": 77, "ok": True, "result": "Accepted"}
    site.kill()
    client = site.start()
    again = raw_request(site.stations[-1].command, request)
    assert again == first
    assert names(events(client, 1)).count("ReservationStart") == 1


def raw_request(endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(endpoint)
    try:
        return ask(socket, request)
    finally:
        socket.close()
