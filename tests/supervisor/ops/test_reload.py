"""Reload: live changes applied and seen in behaviour, restart-only ones named, a broken file ignored."""

from __future__ import annotations

import io
import logging

from supervisor.ops import LogSetup
from tests.supervisor.ops.conftest import OpsStation, station_yaml


def test_a_live_change_is_applied_and_changes_the_next_session(
    ops_station: OpsStation, logs: tuple[LogSetup, io.StringIO]
) -> None:
    text = station_yaml(free_1=True).replace("log_level: INFO", "log_level: DEBUG")
    ops_station.config.write_text(text.replace("intensity: 50", "intensity: 40"))
    result = ops_station.client.call("reload")
    assert result == {
        "applied": [
            "station.log_level: INFO -> DEBUG",
            "station.supervision.intensity: 50 -> 40",
            "connectors[0].free_charging: false -> true",
        ],
        "needs_restart": [],
    }
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    assert ops_station.station.connectors[0].tree.describe()["state"] == "running"
    client = ops_station.client
    assert client.sim_plug_in(1) is True  # free charging: no authorization needed now
    ops_station.subscriber.wait_event(1, "ChargingStarted")
    assert "AuthRequired" not in [e["event"] for e in ops_station.subscriber.values("evse/1/session_events")]
    assert "reload applied connectors[0].free_charging: false -> true" in logs[1].getvalue()
    assert ops_station.client.call("reload") == {"applied": [], "needs_restart": []}


def test_a_change_that_needs_a_restart_is_named_and_left(
    ops_station: OpsStation, logs: tuple[LogSetup, io.StringIO]
) -> None:
    text = station_yaml(max_2=16).replace("tcp://127.0.0.1:*\n  publish", "tcp://127.0.0.1:5999\n  publish")
    ops_station.config.write_text(text)
    expected = {"applied": [], "needs_restart": ["api.command_endpoint", "connectors[1].max_current_a"]}
    assert ops_station.reloader.reload() == expected
    assert ops_station.station.connectors[1].settings.max_current_a == 32
    assert ops_station.reloader.reload() == expected  # still not what runs
    assert "need a restart and were left as they are: api.command_endpoint" in logs[1].getvalue()


def test_a_broken_file_changes_nothing_and_says_why(
    ops_station: OpsStation, logs: tuple[LogSetup, io.StringIO]
) -> None:
    ops_station.config.write_text(
        station_yaml(free_1=True).replace("auth_timeout_s: 60", "auth_timeout_s: soon")
    )
    result = ops_station.reloader.reload()
    assert result["applied"] == [] and result["needs_restart"] == []
    assert "station.yaml:11: connectors[0].auth_timeout_s" in result["error"]
    assert ops_station.station.connectors[0].settings.free_charging is False
    assert "reload refused, nothing changed: " in logs[1].getvalue()


def test_the_grid_limit_is_applied_live(ops_station: OpsStation) -> None:
    text = station_yaml().replace("  log_level: INFO\n", "  log_level: INFO\n  grid: {max_current_a: 40}\n")
    ops_station.config.write_text(text)
    assert ops_station.reloader.reload() == {
        "applied": ["station.grid.max_current_a: None -> 40.0"],
        "needs_restart": [],
    }
    assert ops_station.reloader.running.grid.max_current_a == 40
    assert ops_station.reloader.reload() == {"applied": [], "needs_restart": []}
