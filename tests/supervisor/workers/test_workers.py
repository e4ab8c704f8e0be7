"""Process isolation end to end: `evse-supervisor run --isolation process`, its workers killed,
stopped, bloated, failing at start, and its root killed; the connectors carry on."""

from __future__ import annotations

import itertools
import json
import pathlib
import signal
from collections.abc import Iterator
from functools import partial
from typing import Any

import msgpack
import psutil
import pytest
import yaml
import zmq

from supervisor.client import ApiError, Client
from supervisor.workers.plan import socket_dir, stale_socket_dirs
from supervisor.workers.pool import FAIL_ENV, GROW_ENV
from tests.supervisor.cli.running import RunningStation, free_endpoint, wait_until
from tests.supervisor.cli.test_operations import NotifySocket
from tests.supervisor.ops.test_metrics import Samples, scrape

pytestmark = pytest.mark.timeout(90)


def labelled(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def station_config(
    tmp_path: pathlib.Path, connectors: int = 3, api: dict[str, Any] | None = None, **station: Any
) -> pathlib.Path:
    """The default station, `isolation: process`, with `connectors` simulated connectors."""
    config: dict[str, Any] = {
        "api": api or {},
        "station": {
            "isolation": "process",
            "supervision": {"intensity": 5, "period_s": 30, "backoff_min_s": 0.01, "backoff_max_s": 0.1},
            **station,
        },
        "sim": {"plant_linger_s": 2},
        "connectors": [{"evse_id": f"DE*TST*E{n}"} for n in range(1, connectors + 1)],
    }
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start(
    tmp_path: pathlib.Path,
    *flags: str,
    env: dict[str, str] | None = None,
    serving: bool = True,
    **station: Any,
) -> RunningStation:
    """The station, once every worker serves (unless `serving` is False)."""
    config = station_config(tmp_path, **station)
    running = RunningStation(tmp_path / "state", "--config", str(config), *flags, env=env)
    if serving:
        wait_until(
            lambda: all(w["state"] == "running" for w in workers(running.client)), "every worker serving"
        )
    return running


@pytest.fixture
def running(tmp_path: pathlib.Path) -> Iterator[RunningStation]:
    station = start(tmp_path)
    yield station
    station.stop()


def workers(client: Client) -> list[dict[str, Any]]:
    return list(client.status()["workers"])


def evse(client: Client, index: int) -> dict[str, Any]:
    entry: dict[str, Any] = client.status(evse_from=index, evse_to=index)["evses"][0]
    return entry


def in_state(client: Client, index: int, state: str) -> bool:
    return bool(evse(client, index)["state"] == state)


def charge(station: RunningStation, index: int) -> str:
    """Plug in, authorize, Charging: the session's uuid."""
    station.client.sim_plug_in(index)
    station.client.authorize(index, "TOKEN-1")
    wait_until(lambda: evse(station.client, index)["state"] == "Charging", f"evse {index} charging")
    started = [
        e for e in station.client.get_events(index)["events"] if e["value"]["event"] == "SessionStarted"
    ]
    return str(started[-1]["value"]["uuid"])


def energy_wh(client: Client, index: int) -> float:
    snapshot = client.snapshot(prefix=f"evse/{index}/powermeter")
    return float(snapshot["vars"][f"evse/{index}/powermeter"]["energy_Wh_import"]["total"])


def serving_again(client: Client, worker_id: int, restarts: int) -> dict[str, Any]:
    def back() -> dict[str, Any] | None:
        entry = workers(client)[worker_id - 1]
        return entry if entry["state"] == "running" and entry["restarts"] >= restarts else None

    found: dict[str, Any] = wait_until(back, f"worker {worker_id} serving after {restarts} restart(s)")
    return found


def check_events(events: list[dict[str, Any]]) -> None:
    """Numbered 1, 2, 3, ... with none missing or doubled."""
    numbers = [e["event_seq"] for e in events]
    assert numbers == list(range(1, len(numbers) + 1)), numbers


def test_a_worker_killed_mid_charge_is_replaced_and_the_session_goes_on(running: RunningStation) -> None:
    client = running.client
    uuid = charge(running, 1)
    before = workers(client)
    energy_before = energy_wh(client, 1)
    assert running.client.call("chaos_kill_worker", 1) is True
    after = serving_again(client, 1, 1)
    assert after["pid"] != before[0]["pid"] and after["last_exit"] == "signal SIGKILL"
    assert workers(client)[1]["pid"] == before[1]["pid"]  # the other connectors' workers untouched
    wait_until(lambda: evse(client, 1)["state"] == "Charging", "evse 1 charging again")
    assert energy_wh(client, 1) >= energy_before
    events = client.get_events(1)["events"]
    check_events(events)
    assert {e["value"]["uuid"] for e in events} == {uuid}
    assert [e["value"]["event"] for e in events].count("SessionStarted") == 1
    assert evse(client, 1)["worker"] == 1


def test_supervision_events_name_the_worker(running: RunningStation) -> None:
    sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"station/supervision")
    sub.connect(running.publish)
    try:
        seen: list[dict[str, Any]] = []

        def restarted() -> bool:
            while sub.poll(0):
                seen.append(msgpack.unpackb(sub.recv_multipart()[1])["value"])
            return any(v["actor"] == "worker" and v["event"] == "restarted" for v in seen)

        wait_until(lambda: running.client.call("chaos_kill_worker", 2) and True, "the kill")
        wait_until(restarted, "a worker's restarted event")
        crashed = [v for v in seen if v["actor"] == "worker" and v["event"] == "crashed"]
        assert crashed and crashed[0]["evse"] == 2 and "SIGKILL" in crashed[0]["reason"]
    finally:
        sub.close()


def test_a_killed_workers_connectors_show_a_gap_in_their_seq(running: RunningStation) -> None:
    """What the worker had not sent yet is lost: the root leaves a number out, subscribers resync."""
    sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"evse/2/")
    sub.connect(running.publish)
    seqs: list[int] = []

    def seen(count: int) -> bool:
        while sub.poll(0):
            seqs.append(msgpack.unpackb(sub.recv_multipart()[1])["seq"])
        return len(seqs) >= count

    try:
        wait_until(partial(seen, 1), "a publication of evse 2")  # telemetry, every second
        assert running.client.chaos_kill_worker(2) is True
        serving_again(running.client, 2, 1)
        wait_until(partial(seen, len(seqs) + 1), "a publication of evse 2 after the restart")
    finally:
        sub.close()
    assert any(after - before >= 2 for before, after in itertools.pairwise(seqs)), seqs


def test_a_stopped_worker_misses_its_heartbeats_and_is_replaced(running: RunningStation) -> None:
    client = running.client
    pid = workers(client)[0]["pid"]
    assert running.client.call("chaos_stop_worker", 1, seconds=10) is True
    after = serving_again(client, 1, 1)
    assert after["pid"] != pid and after["last_exit"] == "signal SIGKILL"
    assert client.enable(1) is True  # it answers again
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_worker_above_its_memory_limit_is_stopped_and_replaced(tmp_path: pathlib.Path) -> None:
    station = start(tmp_path, env={GROW_ENV: "40"}, serving=False, connectors=1, max_worker_rss_mb=150)
    try:
        sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        sub.linger = 0
        sub.setsockopt(zmq.SUBSCRIBE, b"station/supervision")
        sub.connect(station.publish)
        seen: list[dict[str, Any]] = []

        def over_limit() -> bool:
            while sub.poll(0):
                seen.append(msgpack.unpackb(sub.recv_multipart()[1])["value"])
            return any("above max_worker_rss_mb 150" in str(v.get("reason")) for v in seen)

        wait_until(over_limit, "the worker stopped over its memory limit", timeout_s=40)
        sub.close()
        serving_again(station.client, 1, 1)
        assert "max_worker_rss_mb" in station.log()
    finally:
        station.stop()


def test_a_worker_failing_at_start_is_given_up_and_disable_enable_brings_it_back(
    tmp_path: pathlib.Path,
) -> None:
    fail_file = tmp_path / "fail"
    fail_file.write_text("2")
    station = start(
        tmp_path,
        env={FAIL_ENV: str(fail_file)},
        serving=False,
        supervision={"intensity": 2, "period_s": 30, "backoff_min_s": 0.01, "backoff_max_s": 0.05},
    )
    client = station.client
    try:
        wait_until(lambda: workers(client)[1]["state"] == "gave_up", "worker 2 given up")
        assert workers(client)[1]["last_exit"] == "exit 4"
        assert "worker 2: told to fail at its start" in station.log()  # its last words reached the log
        wait_until(lambda: evse(client, 2)["state"] == "Faulted", "evse 2 Faulted")
        assert evse(client, 2)["supervisor"]["state"] == "gave_up"
        with pytest.raises(ApiError) as refused:
            client.pause_charging(2)
        assert refused.value.code == "unavailable" and "given up" in refused.value.message
        charge(station, 1)  # the other workers' connectors charge meanwhile
        assert workers(client)[0]["restarts"] == 0
        fail_file.write_text("")
        assert client.disable(2) is True
        assert client.enable(2) is True
        assert workers(client)[1]["state"] == "running"
        wait_until(lambda: evse(client, 2)["state"] == "Idle", "evse 2 Idle again")
        assert evse(client, 1)["state"] == "Charging"
    finally:
        station.stop()


def test_a_request_in_flight_during_a_kill_is_answered_once_and_runs_once(running: RunningStation) -> None:
    client = running.client
    uuid = charge(running, 1)
    running.client.chaos_hang(1, "session", 0.8)  # what comes next waits behind the hang, in the worker
    dealer: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect(running.command)
    try:
        request = {"v": 1, "id": 7, "cmd": "disable", "evse": 1, "client": "in-flight", "timeout_ms": 8000}
        dealer.send_multipart([b"", msgpack.packb(request)])
        assert running.client.call("chaos_kill_worker", 1) is True
        assert dealer.poll(9000)
        reply = msgpack.unpackb(dealer.recv_multipart()[-1])
        assert reply["id"] == 7 and reply["ok"] is True, reply
        assert not dealer.poll(300)  # one reply only
    finally:
        dealer.close()
    wait_until(lambda: evse(client, 1)["state"] == "Disabled", "evse 1 Disabled")
    events = client.get_events(1)["events"]
    check_events(events)
    names = [e["value"]["event"] for e in events if e["value"]["uuid"] == uuid]
    assert names.count("SessionCancelled") == 1, " ".join(names)  # disable ran once


def test_the_root_killed_takes_its_workers_down_and_the_next_start_recovers(tmp_path: pathlib.Path) -> None:
    station = start(tmp_path)
    try:
        uuid = charge(station, 1)
        pids = [w["pid"] for w in workers(station.client)]
        [sockets] = stale_socket_dirs(tmp_path / "state")
        station.signal(signal.SIGKILL)
        station.proc.wait(10)
        for pid in pids:
            assert wait_until(partial(_gone, pid), f"worker {pid} gone", timeout_s=3.0)
        assert not sockets.exists()  # the workers, finding their root dead, removed its sockets
    finally:
        station.stop()
    again = start(tmp_path)
    try:
        wait_until(lambda: evse(again.client, 1)["state"] == "Charging", "evse 1 charging after the restart")
        events = again.client.get_events(1)["events"]
        check_events(events)
        assert {e["value"]["uuid"] for e in events} == {uuid}
    finally:
        assert again.stop() == 0


def test_the_next_start_removes_the_sockets_a_killed_root_left(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    left = socket_dir(state)  # as a root SIGKILLed with its workers (they removed nothing) left it
    (left / "control").write_text("")
    station = start(tmp_path)
    try:
        assert not left.exists()
        assert len(stale_socket_dirs(state)) == 1  # the running root's own
    finally:
        assert station.stop() == 0
    assert stale_socket_dirs(state) == []


def test_sigterm_stops_every_worker(running: RunningStation) -> None:
    pids = [w["pid"] for w in workers(running.client)]
    assert running.stop() == 0
    for pid in pids:
        assert not _alive(pid), pid


def test_workers_log_to_the_roots_log_named(tmp_path: pathlib.Path) -> None:
    station = start(tmp_path, "--log-format", "json")
    try:
        assert station.client.chaos_kill(2, "session") is True
        station.wait_log("session actor restarted")
    finally:
        station.stop()
    lines = [json.loads(line) for line in station.log().splitlines()]
    taken_up = [line for line in lines if "taken up" in line["message"] and line.get("worker") is not None]
    assert sorted(line["worker"] for line in taken_up) == [1, 2, 3]  # each worker's own line, named
    crash = [line for line in lines if line.get("supervision") == "crashed" and line.get("evse") == 2]
    assert len(crash) == 1 and crash[0]["actor"] == "session"
    assert not any("Traceback" in str(line) for line in lines)  # at INFO a failure is one line


def test_the_metrics_endpoint_is_gathered_by_the_root(tmp_path: pathlib.Path) -> None:
    address = free_endpoint("http")
    station = start(tmp_path, api={"metrics_endpoint": address})
    client = station.client
    try:
        charge(station, 1)
        assert client.chaos_kill(2, "session") is True
        station.wait_log("session actor restarted")
        assert client.chaos_kill_worker(3) is True
        serving_again(client, 3, 1)
        e1 = {"evse": "1", "evse_id": "DE*TST*E1"}

        def scraped() -> Samples | None:
            samples = scrape(address)
            charging = samples.get(("evse_state", labelled(state="Charging", **e1)))
            power = samples.get(("evse_power_watts", labelled(**e1)), 0.0)
            return samples if charging == 1 and power > 0 else None

        samples: Samples = wait_until(scraped, "evse 1 charging in the metrics")
    finally:
        station.stop()
    assert samples[("evse_sessions_total", labelled(**e1))] == 1
    assert samples[("evse_journal_writes_total", labelled(**e1))] >= 4
    assert samples[("evse_restarts_total", labelled(role="session", evse="2", evse_id="DE*TST*E2"))] == 1
    assert samples[("evse_restarts_total", labelled(role="worker", evse="3", evse_id="DE*TST*E3"))] == 1
    assert samples[("api_request_duration_seconds_count", labelled(command="authorize", code="ok"))] == 1
    assert samples[("evse_worker_restarts_total", labelled(worker="3"))] == 1
    for worker in ("1", "2", "3"):
        assert samples[("evse_worker_up", labelled(worker=worker))] == 1
        assert samples[("evse_worker_resident_memory_bytes", labelled(worker=worker))] > 0
        assert samples[("evse_worker_threads", labelled(worker=worker))] > 4
    assert samples[("process_resident_memory_bytes", ())] > 0


def test_sd_notify_ready_and_the_watchdog_stopped_by_a_stalled_loop_in_a_worker(
    tmp_path: pathlib.Path,
) -> None:
    notify = NotifySocket()
    env = {"NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "400000"}
    station = start(tmp_path, env=env)
    try:
        ready = notify.wait_for(lambda m: m.startswith("READY=1\nSTATUS=3 connectors: 3 Idle"), "READY=1")
        notify.wait_for(lambda m: "WATCHDOG=1" in m, "WATCHDOG=1", after=ready)
        assert station.client.chaos_hang_supervisor(2, 7) is True
        sick = notify.wait_for(lambda m: "unhealthy: evse 2 supervisor loop stalled" in m, "unhealthy STATUS")
        well = notify.wait_for(
            lambda m: m.startswith("STATUS=") and "unhealthy" not in m, "healthy", after=sick
        )
        assert not any("WATCHDOG=1" in m for m in notify.messages[sick:well])
        assert "WATCHDOG=1" in notify.messages[well]
        assert station.stop() == 0
        notify.wait_for(lambda m: m.startswith("STOPPING=1"), "STOPPING=1")
    finally:
        station.stop()
        notify.sock.close()


def test_a_reload_applies_live_keys_in_the_workers_and_to_the_next_ones(tmp_path: pathlib.Path) -> None:
    station = start(tmp_path)
    client = station.client
    try:
        config = tmp_path / "station.yaml"
        text = yaml.safe_load(config.read_text())
        text["connectors"][0]["free_charging"] = True
        text["connectors"][1]["free_charging"] = True
        text["station"]["log_level"] = "DEBUG"
        text["station"]["connectors_per_worker"] = 2
        config.write_text(yaml.safe_dump(text))
        result = client.reload()
        assert "connectors[0].free_charging: false -> true" in result["applied"]
        assert "station.log_level: INFO -> DEBUG" in result["applied"]
        assert result["needs_restart"] == ["station.workers.connectors_per_worker"]
        assert client.chaos_kill_worker(2) is True  # a worker started after the reload has them too
        serving_again(client, 2, 1)
        for index in (1, 2):
            client.sim_plug_in(index)
            wait_until(partial(in_state, client, index, "Charging"), f"evse {index} charging for free")
        assert evse(client, 3)["state"] == "Idle"
        station.wait_log("settings of a reload applied")
    finally:
        station.stop()


def test_in_thread_isolation_there_are_no_workers(tmp_path: pathlib.Path) -> None:
    station = RunningStation(tmp_path / "state")
    try:
        assert station.client.status()["workers"] == []
        with pytest.raises(ApiError) as refused:
            station.client.call("chaos_kill_worker", 1)
        assert refused.value.code == "forbidden" and "no workers" in refused.value.message
    finally:
        station.stop()


def _gone(pid: int) -> bool:
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
