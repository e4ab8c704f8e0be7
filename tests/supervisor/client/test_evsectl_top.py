"""`evsectl top --once` at 80 columns against a running station, and a stopped one."""

from __future__ import annotations

import json

from tests.supervisor.client.stations import StationProcess, evsectl


def test_top_once_fits_80_columns_with_its_header_and_the_sessions_energy(station: StationProcess) -> None:
    assert evsectl(*station.flags(), "call", "1", "sim_plug_in").returncode == 0
    assert evsectl(*station.flags(), "call", "1", "authorize", "auth_token=CARD").returncode == 0
    assert evsectl(*station.flags(), "call", "2", "sim_fault", "kind=rcd").returncode == 0
    done = evsectl(*station.flags(), "top", "--once", "--width", "80")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].startswith("station depot-north") and "CONNECTED" in lines[0]
    assert station.endpoint in lines[1]
    assert "session kWh" in done.stdout and "error" in done.stdout
    wide = evsectl(*station.flags(), "top", "--once", "--width", "200").stdout
    assert "reserved" in wide and "reserved" not in done.stdout  # the least important column went first


def test_top_once_against_a_stopped_station_says_no_answer(station: StationProcess) -> None:
    assert json.loads(evsectl(*station.flags(), "list", "--json").stdout)
    station.stop()
    done = evsectl(*station.flags(), "--timeout", "0.3", "--retries", "0", "top", "--once", "--width", "80")
    assert done.returncode == 3
    header = done.stdout.splitlines()[0]
    assert "NO ANSWER" in header and len(header) <= 80
