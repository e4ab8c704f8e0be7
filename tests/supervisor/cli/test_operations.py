"""Running the station as an operator does: its log, signals, reload, systemd, one per state dir."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.supervisor.cli.running import STATION, RunningStation, free_endpoint, wait_until

FAST = (
    "station:\n  supervision: {intensity: 50, period_s: 30, backoff_min_s: 0.01, backoff_max_s: 0.1,\n"
    "                ping_interval_s: 0.1, ping_timeout_s: 0.4}\n"
)
CONNECTORS = 'connectors:\n  - {evse_id: "DE*OPS*E1", free_charging: FREE}\n  - {evse_id: "DE*OPS*E2"}\n'


def write_config(path: pathlib.Path, free_charging: bool = False, extra: str = "") -> pathlib.Path:
    path.write_text(FAST + extra + CONNECTORS.replace("FREE", str(free_charging).lower()))
    return path


@pytest.fixture
def stations(tmp_path: pathlib.Path) -> Iterator[list[RunningStation]]:
    started: list[RunningStation] = []
    yield started
    for station in started:
        station.stop()


def _session(station: RunningStation) -> None:
    client = station.client
    assert client.sim_plug_in(1) is True
    station.wait_log("AuthRequired")
    assert client.authorize(1, "CARD-1") is True
    station.wait_log("ChargingResumed")
    assert client.chaos_kill(1, "meter") is True
    station.wait_log("session actor restarted")
    assert client.sim_unplug(1) is True
    station.wait_log("SessionFinished")


def test_a_whole_session_logs_one_text_line_per_event(
    tmp_path: pathlib.Path, stations: list[RunningStation]
) -> None:
    station = RunningStation(tmp_path / "state", "--config", str(write_config(tmp_path / "s.yaml")))
    stations.append(station)
    _session(station)
    assert station.stop() == 0
    lines = station.log().splitlines()
    pattern = re.compile(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>\S+): (?P<text>.*)"
    )
    parsed = [m.groupdict() for m in map(pattern.fullmatch, lines) if m is not None]
    assert len(parsed) == len(lines), "every line has the text format"
    about = "evse 1 (DE*OPS*E1): "
    texts = [p["text"] for p in parsed]
    for event in ("SessionStarted", "AuthRequired", "ChargingStarted", "ChargingResumed", "SessionFinished"):
        assert len([t for t in texts if t.startswith(f"{about}{event} (session ")]) == 1, event
    assert len([t for t in texts if t.startswith(f"{about}authorize auth_token='CARD-1' by client ")]) == 1
    assert len([t for t in texts if t.startswith(f"{about}meter actor crashed")]) == 1
    assert len([t for t in texts if t.startswith(f"{about}meter actor restarted")]) == 1
    assert not any("Traceback" in line or "pykka" in line for line in lines)
    assert texts[-1] == "stopped"


def test_a_whole_session_logs_json_lines_with_the_connector(
    tmp_path: pathlib.Path, stations: list[RunningStation]
) -> None:
    config = str(write_config(tmp_path / "s.yaml"))
    station = RunningStation(tmp_path / "state", "--config", config, "--log-format", "json")
    stations.append(station)
    _session(station)
    assert station.stop() == 0
    records = [json.loads(line) for line in station.log().splitlines()]
    events = [r for r in records if r["logger"] == "evse_supervisor.events"]
    assert events and all((r["evse"], r["evse_id"]) == (1, "DE*OPS*E1") for r in events)
    assert [r["event"] for r in events if "event" in r][:2] == ["SessionStarted", "AuthRequired"]
    crashes = [r for r in events if r.get("supervision") == "crashed"]
    assert [(r["actor"], r["level"]) for r in crashes] == [("meter", "WARNING")]
    finished = next(r for r in events if r.get("event") == "SessionFinished")
    assert finished["energy_wh"] >= 0 and finished["session"]
    command = next(r for r in records if r.get("command") == "authorize")
    assert command["command_args"] == {"auth_token": "CARD-1"} and command["client"]


def test_sigusr2_reopens_the_log_file(tmp_path: pathlib.Path, stations: list[RunningStation]) -> None:
    station = RunningStation(tmp_path / "state")
    stations.append(station)
    station.wait_log("serving 2 connectors")
    rotated = tmp_path / "rotated.log"
    station.log_file.rename(rotated)
    station.signal(signal.SIGUSR2)
    station.wait_log("reopened")
    assert station.client.sim_plug_in(2) is True
    station.wait_log("evse 2 (DE*PNX*E123456*2): sim_plug_in by client")
    assert "serving 2 connectors" in rotated.read_text() and "serving" not in station.log()


def test_sigterm_during_a_long_start_stops_between_connectors_and_exits_0(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "many.yaml"
    lines = "".join(f'  - {{evse_id: "DE*OPS*E{i}"}}\n' for i in range(1, 301))
    config.write_text("connectors:\n" + lines)
    station = RunningStation(tmp_path / "state", "--config", str(config))  # bound: the start is under way
    station.signal(signal.SIGTERM)
    assert station.stop() == 0
    log = station.log()
    assert re.search(r"start interrupted: \d+ of 300 connectors started", log), log[-2000:]
    assert "serving" not in log and log.rstrip().endswith("stopped")


def test_sighup_and_reload_apply_live_changes_name_the_others_and_ignore_a_broken_file(
    tmp_path: pathlib.Path, stations: list[RunningStation]
) -> None:
    config = write_config(tmp_path / "s.yaml")
    station = RunningStation(tmp_path / "state", "--config", str(config))
    stations.append(station)
    write_config(config, free_charging=True)
    station.signal(signal.SIGHUP)
    station.wait_log("reload applied connectors[0].free_charging: false -> true")
    assert station.client.sim_plug_in(1) is True
    station.wait_log("ChargingStarted")  # free charging: no authorization
    write_config(config, free_charging=True, extra="sim: {time_scale: 60}\n")
    done = subprocess.run(
        [STATION, "reload", "--state-dir", str(tmp_path / "state")], capture_output=True, text=True
    )
    assert done.returncode == 0 and f"pid {station.proc.pid}" in done.stdout
    station.wait_log("need a restart and were left as they are: sim.time_scale")
    config.write_text(config.read_text().replace("time_scale: 60", "time_scale: fast"))
    assert station.client.call("reload")["error"].startswith(f"{config}:4: sim.time_scale")
    station.wait_log("reload refused, nothing changed: ")
    assert station.client.ping()


def test_reload_without_a_station_says_so(tmp_path: pathlib.Path) -> None:
    done = subprocess.run([STATION, "reload", "--state-dir", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 1 and "no station runs on state dir" in done.stderr


class NotifySocket:
    """systemd's side of sd_notify: an abstract datagram socket and every message received."""

    def __init__(self) -> None:
        self.name = f"@evse-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.sock.settimeout(0.05)
        self.messages: list[str] = []

    def wait_for(self, check: Any, what: str, after: int = -1, timeout_s: float = 20.0) -> int:
        """The index in `messages` of the first message past `after` that satisfies `check`."""

        def look() -> int | None:
            with contextlib.suppress(TimeoutError):
                self.messages.append(self.sock.recv(4096).decode())
            found = (i for i, m in enumerate(self.messages) if i > after and check(m))
            return next((i + 1 for i in found), None)  # + 1: index 0 is a find too

        return int(wait_until(look, what, timeout_s)) - 1


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    listener = NotifySocket()
    yield listener
    listener.sock.close()


def test_sd_notify_ready_status_watchdog_while_healthy_and_stopping(
    tmp_path: pathlib.Path, stations: list[RunningStation], notify: NotifySocket
) -> None:
    env = {"NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "400000"}
    station = RunningStation(tmp_path / "state", "--config", str(write_config(tmp_path / "s.yaml")), env=env)
    stations.append(station)
    ready = notify.wait_for(lambda m: m.startswith("READY=1\nSTATUS=2 connectors: 2 Idle"), "READY=1")
    notify.wait_for(lambda m: "WATCHDOG=1" in m, "WATCHDOG=1", after=ready)
    assert station.client.call("chaos_hang_supervisor", 1, seconds=7) is True
    sick = notify.wait_for(lambda m: "unhealthy: evse 1 supervisor loop stalled" in m, "unhealthy STATUS")
    well = notify.wait_for(lambda m: m.startswith("STATUS=") and "unhealthy" not in m, "healthy", after=sick)
    assert not any("WATCHDOG=1" in m for m in notify.messages[sick:well])
    assert "WATCHDOG=1" in notify.messages[well]
    assert station.stop() == 0
    notify.wait_for(lambda m: m.startswith("STOPPING=1"), "STOPPING=1")
    assert "unhealthy, systemd's watchdog is not fed: evse 1 supervisor loop stalled" in station.log()
    assert "healthy again (was: evse 1 supervisor loop stalled)" in station.log()


def test_the_metrics_endpoint_serves_prometheus_text(
    tmp_path: pathlib.Path, stations: list[RunningStation]
) -> None:
    from tests.supervisor.ops.test_metrics import scrape, value

    address = free_endpoint("http")
    config = write_config(tmp_path / "s.yaml", extra=f"api: {{metrics_endpoint: '{address}'}}\n")
    station = RunningStation(tmp_path / "state", "--config", str(config))
    stations.append(station)
    station.wait_log(f"metrics on {address}/metrics")
    samples = scrape(address)
    assert value(samples, "evse_state", evse="2", evse_id="DE*OPS*E2", state="Idle") == 1
    assert value(samples, "api_request_duration_seconds_count", command="ping", code="ok") >= 1


def test_a_second_station_on_the_same_state_dir_is_refused_naming_the_first(
    tmp_path: pathlib.Path, stations: list[RunningStation]
) -> None:
    first = RunningStation(tmp_path / "state")
    stations.append(first)
    argv = [STATION, "run", "--state-dir", str(tmp_path / "state")]
    argv += ["--command-endpoint", free_endpoint(), "--publish-endpoint", free_endpoint()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"evse-supervisor: another station (pid {first.proc.pid}) runs on state dir {tmp_path / 'state'} "
        f"(lock {tmp_path / 'state' / 'station.lock'}); stop it or give this one its own --state-dir"
    ]
    assert first.client.ping()


def _run_once(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STATION, "run", *args], capture_output=True, text=True, timeout=30)


def _endpoints() -> list[str]:
    return ["--command-endpoint", free_endpoint(), "--publish-endpoint", free_endpoint()]


def test_a_state_dir_that_is_a_file_or_cannot_be_made_is_one_line(tmp_path: pathlib.Path) -> None:
    (tmp_path / "file").write_text("")
    done = _run_once("--state-dir", str(tmp_path / "file"), *_endpoints())
    assert done.returncode == 1
    message = f"state dir {tmp_path / 'file'} is not a directory; give --state-dir a directory"
    assert done.stderr == f"evse-supervisor: {message}\n"
    done = _run_once("--state-dir", str(tmp_path / "file" / "state"), *_endpoints())
    assert done.returncode == 1
    assert (
        done.stderr
        == f"evse-supervisor: cannot create the state dir {tmp_path / 'file' / 'state'}: Not a directory\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_state_dir_is_one_line(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o500)
    done = _run_once("--state-dir", str(state), *_endpoints())
    assert done.returncode == 1 and "is not writable by this user" in done.stderr


@pytest.mark.parametrize(
    ("which", "change"),
    [
        ("--command-endpoint", "--command-endpoint (api.command_endpoint)"),
        ("--publish-endpoint", "--publish-endpoint (api.publish_endpoint)"),
        ("metrics", "api.metrics_endpoint"),
    ],
)
def test_a_port_in_use_names_what_to_change_and_nothing_is_started(
    tmp_path: pathlib.Path, which: str, change: str
) -> None:
    flags = {"--command-endpoint": free_endpoint(), "--publish-endpoint": free_endpoint()}
    config = tmp_path / "s.yaml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        if which == "metrics":
            url = f"http://127.0.0.1:{port}"
            write_config(config, extra=f"api: {{metrics_endpoint: '{url}'}}\n")
        else:
            url = flags[which] = f"tcp://127.0.0.1:{port}"
            write_config(config)
        args = [item for flag in flags.items() for item in flag]
        done = _run_once("--config", str(config), "--state-dir", str(tmp_path / "state"), *args)
    assert done.returncode == 1
    assert done.stderr == f"evse-supervisor: {url} is in use by another program; change {change}\n"
    assert list((tmp_path / "state").iterdir()) == []  # no lock, no meter keys, no journal


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--log-level", "LOUD"],
            2,
            "argument --log-level: unknown log level 'LOUD'; use one of DEBUG, INFO",
        ),
        (["--log-format", "xml"], 2, "argument --log-format: invalid choice: 'xml'"),
    ],
)
def test_a_bad_log_flag_is_a_usage_error(
    tmp_path: pathlib.Path, args: list[str], code: int, message: str
) -> None:
    done = _run_once("--state-dir", str(tmp_path), *args)
    assert done.returncode == code and message in done.stderr and "Traceback" not in done.stderr


def test_a_bad_log_level_in_the_file_names_its_line(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "s.yaml"
    config.write_text('station:\n  log_level: chatty\nconnectors:\n  - {evse_id: "A"}\n')
    done = _run_once("--config", str(config), "--state-dir", str(tmp_path / "state"))
    assert done.returncode == 1
    assert done.stderr == (
        f"evse-supervisor: {config}:2: station.log_level: "
        "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'chatty'\n"
    )
