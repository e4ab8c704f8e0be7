"""The shipped systemd unit: notify, watchdog, restart on failure, the simulated plant left alone."""

from __future__ import annotations

import configparser

from supervisor.config.shipped import shipped


def test_the_shipped_unit_is_what_the_station_speaks() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(shipped("systemd", "evse-supervisor.service").read_text(encoding="utf-8"))
    service = unit["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) >= 10
    assert service["Restart"] == "on-failure"
    assert service["KillMode"] == "process"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert " run " in service["ExecStart"] and "--state-dir" in service["ExecStart"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
