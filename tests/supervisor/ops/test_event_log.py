"""The log of a session: one line per event, command, board error and supervision event."""

from __future__ import annotations

import io

from supervisor.ops import LogSetup
from tests.supervisor.ops.conftest import OpsStation


def lines_with(text: str, *words: str) -> list[str]:
    return [line for line in text.splitlines() if all(word in line for word in words)]


def test_a_session_a_fault_and_a_crash_each_log_one_line_naming_the_connector(
    ops_station: OpsStation, logs: tuple[LogSetup, io.StringIO]
) -> None:
    client, subscriber = ops_station.client, ops_station.subscriber
    assert client.sim_plug_in(1) is True
    subscriber.wait_event(1, "AuthRequired")
    assert client.authorize(1, "CARD-1") is True
    subscriber.wait_event(1, "ChargingResumed")
    assert client.call("sim_fault", 1, kind="rcd") is True
    subscriber.wait_event(1, "Error")
    assert client.chaos_kill(1, "meter") is True
    subscriber.wait_for(
        "station/supervision", lambda v: v["event"] == "restarted" and v["actor"] == "session"
    )
    assert client.call("get_events", 1)["last_event_seq"] > 0  # a read: not logged
    text = logs[1].getvalue()
    who = "evse 1 (DE*OPS*E1): "
    for event in ("SessionStarted", "AuthRequired", "ChargingStarted", "ChargingResumed"):
        assert len(lines_with(text, f"INFO evse_supervisor.events: {who}{event} (session ")) == 1, event
    assert (
        len(lines_with(text, f"INFO evse_supervisor.commands: {who}authorize auth_token='CARD-1' by client "))
        == 1
    )
    assert len(lines_with(text, f"WARNING evse_supervisor.events: {who}board error RCD")) == 1
    assert (
        len(lines_with(text, f"WARNING evse_supervisor.events: {who}meter actor crashed (generation 1")) == 1
    )
    assert (
        len(lines_with(text, f"INFO evse_supervisor.events: {who}meter actor restarted (generation 2")) == 1
    )
    assert lines_with(text, "get_events") == []
    assert "Traceback" not in text and "evse 2" not in text
