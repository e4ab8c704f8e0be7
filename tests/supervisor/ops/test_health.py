"""The STATUS= line counts failures once, as `evsectl status` does, and restarts apart."""

from __future__ import annotations

from typing import Any

from supervisor.ops.health import StationHealth, Watchdog
from supervisor.ops.notify import Notifier
from tests.supervisor.cli.running import wait_until
from tests.supervisor.ops.conftest import OpsStation


def _supervision(live: OpsStation) -> list[dict[str, Any]]:
    return [entry["supervisor"] for entry in live.client.status()["evses"]]


def test_status_line_counts_a_failure_once_and_its_restarts_apart(ops_station: OpsStation) -> None:
    health = StationHealth(ops_station.station)
    watchdog = Watchdog(health, ops_station.server.command_endpoint, Notifier(None), None)
    silent: list[list[str]] = []
    watchdog.start(5.0, silent.append)
    try:
        assert watchdog.summary() == "2 connectors: 2 Idle; 0 failures (0 restarts)"
        assert wait_until(lambda: silent == [[]], "both connectors answered the readiness check")
        tree = ops_station.station.connectors[0].tree
        assert ops_station.client.chaos_kill(1, "meter") is True
        assert tree.wait_for(
            lambda: tree.describe()["restarts"] >= 3 and tree.describe()["state"] == "running", 10
        )
        shown = _supervision(ops_station)
        failures = sum(int(s["failures"]) for s in shown)
        restarts = sum(int(s["restarts"]) for s in shown)
        assert (failures, restarts) == (1, 3)  # meter, then reservation and session taken along
        assert watchdog.summary() == "2 connectors: 2 Idle; 1 failure (3 restarts)"
    finally:
        watchdog.stop()
