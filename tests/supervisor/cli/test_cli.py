"""`evse-supervisor` as an operator runs it: check-config, and run stopped by a signal."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from supervisor.client import Client
from tests.live import StationProcess

BIN = pathlib.Path(sys.executable).parent
STATION = str(BIN / "evse-supervisor")


ANY_ENDPOINT = "tcp://127.0.0.1:*"  # the station binds a free port and reports it


def test_check_config_of_the_default(tmp_path: pathlib.Path) -> None:
    done = subprocess.run([STATION, "check-config"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 connectors" in done.stdout and "DE*PNX*E123456*2" in done.stdout


def test_check_config_names_the_line_and_key_of_a_mistake(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("connectors:\n  - evse_id: A\n    max_current_a: 32A\n")
    done = subprocess.run(
        [STATION, "check-config", "--config", str(bad)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "bad.yaml:3: connectors[0].max_current_a" in done.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--command-endpoint", "tcp://0.0.0.0:5555"], "CURVE"),
    ],
)
def test_run_refuses_what_is_not_built(tmp_path: pathlib.Path, flags: list[str], message: str) -> None:
    argv = [STATION, "run", "--state-dir", str(tmp_path), "--publish-endpoint", ANY_ENDPOINT, *flags]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and message in done.stderr


@pytest.fixture
def station(tmp_path: pathlib.Path) -> Iterator[tuple[subprocess.Popen[str], Client]]:
    running = StationProcess(tmp_path, "--chaos")
    client = Client(running.command_endpoint, running.publish_endpoint, timeout_s=2.0, retries=10)
    try:
        yield running.proc, client
    finally:
        client.close()
        if running.proc.poll() is None:
            running.proc.kill()
        running.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_station_within_5s_even_with_a_hung_actor(
    station: tuple[subprocess.Popen[str], Client], signum: int
) -> None:
    proc, client = station
    assert client.sim_plug_in(1) is True
    assert client.authorize(1, "CARD") is True
    assert client.chaos_hang(1, "session", 30) is True
    assert client.chaos_hang(2, "hardware", 30) is True
    started = time.monotonic()
    os.kill(proc.pid, signum)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5.0
