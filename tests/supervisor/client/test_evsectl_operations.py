"""The real evsectl against a real station: failures in status and top, restart, logs, reload."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Iterator

import pytest
import zmq

from tests.live import Subscriber
from tests.supervisor.client.stations import BIN, StationProcess, evsectl


@pytest.fixture
def publications(station: StationProcess) -> Iterator[Subscriber]:
    """The station's publications from a heartbeat on (so none after it is missed)."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    subscriber = Subscriber(context, station.publish_endpoint)
    subscriber.wait_for("station/heartbeat", lambda value: True)
    yield subscriber
    subscriber.close()
    context.destroy(linger=0)


def restarted(subscriber: Subscriber, evse: int, actor: str, generation: int) -> dict[str, object]:
    def match(value: dict[str, object]) -> bool:
        wanted = (evse, actor, "restarted", generation)
        return (value.get("evse"), value.get("actor"), value.get("event"), value.get("generation")) == wanted

    return subscriber.wait_for("station/supervision", match)["value"]  # type: ignore[no-any-return]


def test_a_failure_that_restarts_its_siblings_counts_once(
    station: StationProcess, publications: Subscriber
) -> None:
    killed = evsectl(*station.flags(), "call", "1", "chaos_kill", "actor=hardware")
    assert killed.returncode == 0, killed.stderr
    restarted(publications, 1, "session", 2)  # rest_for_one: the hardware's failure restarts all four
    supervision = json.loads(evsectl(*station.flags(), "status", "--json").stdout)["evses"][0]["supervisor"]
    assert (supervision["restarts"], supervision["failures"]) == (4, 1)
    hardware = supervision["actors"][0]
    assert (hardware["role"], hardware["failures"], hardware["restarts"]) == ("hardware", 1, 1)
    assert all(actor["failures"] == 0 for actor in supervision["actors"][1:])
    beat = publications.wait_for("station/heartbeat", lambda value: value["evses"][0]["restarts"] == 4)
    assert beat["value"]["evses"][0]["failures"] == 1
    table = evsectl(*station.flags(), "status").stdout
    row = next(line for line in table.splitlines() if "DE*TST*E000001" in line)
    assert row.split("│")[5].strip() == "1" and row.split("│")[6].strip() == "4"  # failures, restarts
    top = evsectl(*station.flags(), "top", "--once", "--width", "80").stdout
    header = next(line for line in top.splitlines() if "failures" in line)
    first = next(line for line in top.splitlines() if line.split()[:1] == ["1"])
    at = header.index("failures")
    assert first[at : at + len("failures")].split() == ["1"]


def session_uuid(station: StationProcess, evse: int) -> str:
    done = evsectl(*station.flags(), "--json", "call", str(evse), "get_events")
    started = [
        e["value"] for e in json.loads(done.stdout)["events"] if e["value"]["event"] == "SessionStarted"
    ]
    return str(started[-1]["uuid"])


def test_restart_restarts_the_connectors_actors_and_the_session_goes_on(
    station: StationProcess, publications: Subscriber
) -> None:
    assert evsectl(*station.flags(), "call", "1", "sim_plug_in").returncode == 0
    assert evsectl(*station.flags(), "call", "1", "authorize", "auth_token=CARD").returncode == 0
    publications.wait_event(1, "ChargingStarted")
    uuid = session_uuid(station, 1)
    before = json.loads(evsectl(*station.flags(), "status", "--json").stdout)["evses"][0]["state"]
    done = evsectl(*station.flags(), "restart", "1")
    assert (done.returncode, done.stdout.strip()) == (0, "evse 1: restarted"), done.stderr
    events = [restarted(publications, 1, role, 2) for role in ("hardware", "meter", "reservation", "session")]
    assert {event["reason"] for event in events} == {"restart requested"}
    status = json.loads(evsectl(*station.flags(), "status", "--json").stdout)
    first, second = status["evses"]
    assert [a["generation"] for a in first["supervisor"]["actors"]] == [2, 2, 2, 2]
    assert (first["supervisor"]["failures"], first["supervisor"]["restarts"]) == (0, 4)
    assert before != "Idle" and first["state"] == before and session_uuid(station, 1) == uuid
    paused = evsectl(*station.flags(), "call", "1", "pause_charging")  # the new generation answers
    assert (paused.returncode, paused.stdout.strip()) == (0, "true"), paused.stderr
    assert [a["generation"] for a in second["supervisor"]["actors"]] == [1, 1, 1, 1]
    log = "".join(station.log)
    assert "session actor restarted (generation 2, 1 restarts): restart requested" in log


def test_restart_all_and_a_connector_that_is_not_there(station: StationProcess) -> None:
    done = evsectl(*station.flags(), "--json", "restart", "all")
    assert done.returncode == 0 and json.loads(done.stdout) == {"restarted": {"1": True, "2": True}}
    supervision = [
        e["supervisor"] for e in json.loads(evsectl(*station.flags(), "status", "--json").stdout)["evses"]
    ]
    assert [s["restarts"] for s in supervision] == [4, 4] and [s["failures"] for s in supervision] == [0, 0]
    missing = evsectl(*station.flags(), "restart", "9")
    assert missing.returncode == 1 and "unknown_evse" in missing.stderr
    assert evsectl(*station.flags(), "restart").returncode == 2  # which one: a usage error


def test_reload_says_what_it_applied_and_a_refused_file_is_an_error(station: StationProcess) -> None:
    same = evsectl(*station.flags(), "reload")
    assert (same.returncode, same.stdout.strip()) == (0, "nothing changed"), same.stderr
    text = station.config.read_text()
    station.config.write_text(text.replace("  chaos: true", "  chaos: true\n  log_level: DEBUG"))
    applied = evsectl(*station.flags(), "reload")
    assert applied.returncode == 0 and "applied station.log_level: INFO -> DEBUG" in applied.stdout
    station.config.write_text(text.replace("max_current_a: 32", "max_current_a: lots"))
    refused = evsectl(*station.flags(), "--json", "reload")
    assert refused.returncode == 1 and "max_current_a" in json.loads(refused.stdout)["error"]
    assert "reload refused" in evsectl(*station.flags(), "reload").stderr


class Lines:
    """A process's stdout lines as they come (read by a thread); `wait_for` waits on them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._cond = threading.Condition()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._reader.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._cond:
                self.seen.append(line)
                self._cond.notify_all()

    def close(self, proc: subprocess.Popen[str]) -> None:
        """After the process ended: the rest read, the pipe closed."""
        self._reader.join(10.0)
        assert proc.stdout is not None
        proc.stdout.close()

    def wait_for(self, text: str, timeout_s: float = 10.0) -> str:
        with self._cond:
            found = self._cond.wait_for(lambda: any(text in line for line in self.seen), timeout_s)
            assert found, f"no {text!r} in {self.seen}"
            return next(line for line in self.seen if text in line)


def test_logs_shows_the_newest_lines_and_follows_new_ones(station: StationProcess) -> None:
    done = evsectl(*station.flags(), "logs", "-n", "50")
    assert done.returncode == 0 and "station depot-north serving 2 connectors" in done.stdout
    newest = json.loads(evsectl(*station.flags(), "--json", "logs", "-n", "1").stdout)
    assert len(newest["lines"]) == 1 and newest["lines"][0]["seq"] == newest["last_seq"]
    assert evsectl(*station.flags(), "logs", "-n", "0").returncode == 2
    argv = [str(BIN / "evsectl"), *station.flags(), "logs", "-f", "-n", "1"]
    follower = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    lines = Lines(follower)
    try:
        lines.wait_for(" INFO ")  # the newest line, at once
        assert evsectl(*station.flags(), "restart", "2").returncode == 0
        assert "evse/2: every child restarts: restart requested" in lines.wait_for("every child restarts")
        lines.wait_for("evse 2 (DE*TST*E000002): session actor restarted")
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0  # Ctrl-C ends it, as it ends watch
        lines.close(follower)
