"""The real evsectl against real stations: where the endpoints come from, what status says, exit codes."""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.supervisor.client.stations import BIN, StationProcess, evsectl


def dead_endpoint() -> str:
    """A loopback port nothing listens on (a station that is gone)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def second(tmp_path: pathlib.Path) -> Iterator[StationProcess]:
    running = StationProcess.start(tmp_path / "south", "depot-south", connectors=3)
    yield running
    running.stop()


def test_global_flags_go_before_or_after_the_subcommand(station: StationProcess) -> None:
    for argv in (
        [*station.flags(), "list", "--json"],
        ["list", *station.flags(), "--json"],
        ["--json", "list", "--timeout", "5", *station.flags()],
    ):
        done = evsectl(*argv)
        assert done.returncode == 0, done.stderr
        assert [e["evse_id"] for e in json.loads(done.stdout)] == ["DE*TST*E000001", "DE*TST*E000002"]


def test_two_stations_each_by_its_environment_config_or_flags(
    station: StationProcess, second: StationProcess
) -> None:
    env = {"EVSECTL_ENDPOINT": second.endpoint, "EVSECTL_PUBLISH_ENDPOINT": second.publish_endpoint}
    by_env = json.loads(evsectl("list", "--json", env=env).stdout)
    assert len(by_env) == 3
    by_flag = json.loads(evsectl("list", "--json", *station.flags(), env=env).stdout)
    assert len(by_flag) == 2  # a flag beats the environment
    by_config = json.loads(evsectl("--config", str(station.config), "status", "--json", env=env).stdout)
    assert by_config["name"] == "depot-north" and len(by_config["evses"]) == 2
    assert by_config["endpoint"] == station.endpoint  # the bound port, from state_dir/endpoints.json


def test_status_says_which_station_answered_and_where(second: StationProcess) -> None:
    done = evsectl("status", "--config", str(second.config))
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert "station depot-south" in first and second.endpoint in first and second.publish_endpoint in first


def test_version_of_both_tools() -> None:
    done = evsectl("--version")
    assert done.returncode == 0 and done.stdout.startswith("evsectl ")
    done = subprocess.run(
        [str(BIN / "evse-supervisor"), "--version"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stdout.startswith("evse-supervisor ")


def test_exit_codes_ok_false_result_error_usage_no_reply(station: StationProcess) -> None:
    assert evsectl(*station.flags(), "call", "1", "enable").returncode == 0
    false = evsectl(*station.flags(), "call", "1", "cancel_reservation")  # nothing to cancel: false
    assert (false.returncode, false.stdout.strip()) == (0, "false")
    refused = evsectl(*station.flags(), "call", "9", "enable")
    assert refused.returncode == 1 and "9" in refused.stderr
    assert evsectl(*station.flags(), "lsit").returncode == 2
    gone = evsectl("--endpoint", dead_endpoint(), "--timeout", "0.2", "--retries", "0", "list")
    assert gone.returncode == 3 and "no reply" in gone.stderr


def test_json_errors_are_json_on_stdout(station: StationProcess) -> None:
    refused = evsectl(*station.flags(), "--json", "call", "9", "enable")
    assert refused.returncode == 1 and json.loads(refused.stdout)["ok"] is False
    gone = evsectl("--endpoint", dead_endpoint(), "--timeout", "0.2", "--retries", "0", "--json", "status")
    assert gone.returncode == 3 and json.loads(gone.stdout)["error"]["code"] == "no_reply"
    usage = evsectl("--json", "status", "--timeout", "-1")
    assert usage.returncode == 2 and "positive" in json.loads(usage.stdout)["error"]["message"]


@pytest.mark.parametrize("value", ["-1", "0", "inf", "nan", "soon"])
def test_a_timeout_must_be_positive_and_finite(value: str) -> None:
    done = evsectl("--endpoint", dead_endpoint(), "--timeout", value, "list")
    assert done.returncode == 2 and "--timeout" in done.stderr


def test_a_config_file_that_is_wrong_is_a_usage_error(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("connectors:\n  - evse_id: A\n    max_current_a: 32A\n")
    done = evsectl("--config", str(bad), "list")
    assert done.returncode == 2 and "bad.yaml:3" in done.stderr
