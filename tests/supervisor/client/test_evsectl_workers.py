"""`evsectl status` and `evsectl top` show a process-isolated station's workers (pid, RSS, CPU,
restarts, state, last exit), and nothing of the kind for a thread-isolated station."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.supervisor.cli.running import wait_until
from tests.supervisor.client.stations import BIN, StationProcess, evsectl
from tests.supervisor.client.test_evsectl_top_live import Terminal

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def isolated(tmp_path: pathlib.Path) -> Iterator[StationProcess]:
    running = StationProcess.start(tmp_path / "west", "depot-west", connectors=2, isolation="process")
    yield running
    running.stop()


def workers(station: StationProcess) -> list[dict[str, Any]]:
    done = evsectl(*station.flags(), "status", "--json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout)["workers"])


def serving(station: StationProcess, restarts: int = 0) -> list[dict[str, Any]]:
    """The workers once every one runs (with a pid) after `restarts` restarts in all."""

    def ready() -> list[dict[str, Any]]:
        found = workers(station)
        running = all(w["state"] == "running" and w["pid"] for w in found)
        return found if running and sum(w["restarts"] for w in found) == restarts else []

    return list(wait_until(ready, f"every worker running after {restarts} restarts"))


def row_of(output: str, pid: int) -> str:
    """The workers table's row of the worker with this pid."""
    rows = [line for line in output.splitlines() if f" {pid} " in f" {line} "]
    assert len(rows) == 1, output
    return rows[0]


def test_status_shows_every_worker_and_a_killed_one_restarted(isolated: StationProcess) -> None:
    first = serving(isolated)
    assert [w["evses"] for w in first] == [[1], [2]]
    done = evsectl(*isolated.flags(), "status")
    assert done.returncode == 0, done.stderr
    assert "last exit" in done.stdout and "rss MiB" in done.stdout
    for worker in first:
        row = row_of(done.stdout, worker["pid"])
        assert "running" in row and row.split()[-1] == "-"  # no exit yet
    assert evsectl(*isolated.flags(), "call", "2", "chaos_kill_worker").returncode == 0
    again = serving(isolated, restarts=1)
    assert again[0]["pid"] == first[0]["pid"] and again[1]["pid"] != first[1]["pid"]
    done = evsectl(*isolated.flags(), "status")
    row = row_of(done.stdout, again[1]["pid"])
    assert row.split()[:5] == ["2", str(again[1]["pid"]), "2", "running", "1"], row
    assert row.rstrip().endswith("signal SIGKILL"), row


def test_top_shows_the_workers_of_its_page_and_follows_a_kill(isolated: StationProcess) -> None:
    first = serving(isolated)
    once = evsectl(*isolated.flags(), "top", "--once", "--width", "100")
    assert once.returncode == 0, once.stderr
    assert "last exit" in once.stdout
    assert all("running" in row_of(once.stdout, w["pid"]) for w in first)
    terminal = Terminal([str(BIN / "evsectl"), *isolated.flags(), "top"])
    try:
        terminal.wait_for("last exit")
        before = terminal.mark()
        assert evsectl(*isolated.flags(), "call", "1", "chaos_kill_worker").returncode == 0
        terminal.wait_for("SIGKILL", after=before)  # the worker's supervision event, then its status
        terminal.press(b"q")
        assert terminal.proc.wait(30) == 0
    finally:
        terminal.close()


def test_a_thread_station_shows_no_workers(station: StationProcess) -> None:
    assert workers(station) == []
    status = evsectl(*station.flags(), "status")
    top = evsectl(*station.flags(), "top", "--once", "--width", "100")
    assert status.returncode == 0 and top.returncode == 0, status.stderr + top.stderr
    for output in (status.stdout, top.stdout):
        assert "last exit" not in output and "worker" not in output
