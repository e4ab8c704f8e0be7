"""The API end to end: the real station in this process, and `evse-supervisor run` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from supervisor.client import ApiError, Client, source_of
from tests.live import WAIT_S, StationProcess, ask, code_of, in_seconds, session_actor, session_generation
from tests.supervisor.api.conftest import ApiStation

BIN = Path(sys.executable).parent


def test_req_and_both_dealer_shapes_are_answered(running: ApiStation) -> None:
    req = running.socket(zmq.REQ)
    req.send(msgpack.packb({"id": "r", "cmd": "list_evses"}))
    assert req.poll(int(WAIT_S * 1000))
    assert [e["index"] for e in msgpack.unpackb(req.recv())["result"]] == [1, 2]
    dealer = running.socket()
    assert ask(dealer, {"id": 1, "cmd": "enable", "evse": 1}, delimiter=False)["result"] is True
    assert (
        ask(dealer, {"id": 2, "cmd": "enable", "evse": "DE*PNX*E123456*2"}, delimiter=True)["result"] is True
    )


def test_a_frame_over_maxmsgsize_leaves_the_station_serving(running: ApiStation) -> None:
    rude, polite = running.socket(), running.socket()
    rude.send(b"\x00" * (16 * 65536 + 1))
    assert ask(polite, {"id": 1, "cmd": "ping"})["ok"] is True
    assert ask(rude, {"id": 2, "cmd": "ping"})["ok"] is True


def test_a_retried_reservation_is_made_once(running: ApiStation) -> None:
    sock = running.socket()
    request = {"id": 9, "client": "ops", "cmd": "reserve_now", "evse": 1,
               "args": {"reservation_id": 5, "auth_token": "T5", "expiry_date": in_seconds(60)}}  # fmt: skip
    assert ask(sock, request)["result"] == "Accepted"
    assert ask(running.socket(), request)["result"] == "Accepted"
    with running.client() as client:
        events = client.get_events(1, since=0)["events"]
    assert [e["value"]["event"] for e in events].count("ReservationStart") == 1


def test_a_full_connector_queue_answers_busy(running: ApiStation) -> None:
    with running.client() as client:
        assert client.chaos_hang(1, "session", 2) is True
    sock = running.socket()
    for n in range(1, 71):
        sock.send(msgpack.packb({"id": n, "cmd": "pause_charging", "evse": 1, "timeout_ms": 1000}))
    replies: dict[int, dict[str, Any]] = {}
    while len(replies) < 70:
        assert sock.poll(int(WAIT_S * 1000)), f"only {len(replies)} replies"
        reply = msgpack.unpackb(sock.recv())
        assert reply["id"] not in replies
        replies[reply["id"]] = reply
    busy = sorted(n for n, reply in replies.items() if not reply["ok"] and reply["error"]["code"] == "busy")
    # 64 wait; the worker takes the first one off the queue at a moment of its own choosing
    assert set(busy) <= set(range(65, 71)) and len(busy) in (5, 6), busy
    assert ask(sock, {"id": 0, "cmd": "enable", "evse": 2})["result"] is True


def test_timeout_then_a_retry_gets_the_real_result(running: ApiStation) -> None:
    with running.client() as client:
        assert client.chaos_hang(1, "session", 2) is True
        sock = running.socket()
        request = {"id": 1, "client": "c", "cmd": "pause_charging", "evse": 1, "timeout_ms": 100}
        assert code_of(ask(sock, request)) == "timeout"
        running.wait_until(lambda: session_generation(client, 1) == 2, "a new session generation")
    retry = ask(sock, {**request, "timeout_ms": 5000})
    assert retry == {"v": 1, "id": 1, "ok": True, "result": False}  # nothing to pause: no session


def test_a_retry_after_a_timeout_joins_the_slow_original_and_runs_it_once(running: ApiStation) -> None:
    """A slow actor (busy 0.6 s, under the 1 s that makes it hung): the station answers
    `timeout` at 100 ms, the retry waits for the same run and gets its result."""
    with running.client() as client:
        assert client.chaos_hang(1, "session", 0.6) is True
        sock = running.socket()
        args = {"reservation_id": 8, "auth_token": "T8", "expiry_date": in_seconds(60)}
        request = {
            "id": 3,
            "client": "slow",
            "cmd": "reserve_now",
            "evse": 1,
            "timeout_ms": 100,
            "args": args,
        }
        assert code_of(ask(sock, request)) == "timeout"
        retry = ask(running.socket(), {**request, "timeout_ms": 5000})
        assert retry == {"v": 1, "id": 3, "ok": True, "result": "Accepted"}
        assert ask(sock, request) == retry  # later: from the store
        events = [e["value"]["event"] for e in client.get_events(1, since=0)["events"]]
        assert events.count("ReservationStart") == 1
        assert session_generation(client, 1) == 1  # slow, not hung: never restarted


def test_one_hung_connector_does_not_hold_up_the_other(running: ApiStation) -> None:
    with running.client() as client, running.client() as other:
        assert client.chaos_hang(1, "session", 2) is True
        stuck = running.socket()
        stuck.send(msgpack.packb({"id": 1, "cmd": "pause_charging", "evse": 1, "timeout_ms": 1500}))
        for amps in (10, 20, 16, 32):
            assert other.set_local_max_current(2, amps) == "Success"
        assert not stuck.poll(0), "connector 1 answered while its session actor hung"


def test_two_clients_on_two_connectors_at_once(running: ApiStation) -> None:
    results: dict[int, list[str]] = {1: [], 2: []}

    def drive(evse: int) -> None:
        with running.client() as client:
            for n in range(40):
                results[evse].append(client.set_local_max_current(evse, 6 + n % 20))

    threads = [threading.Thread(target=drive, args=(evse,)) for evse in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert results == {1: ["Success"] * 40, 2: ["Success"] * 40}


def test_a_late_joiner_sees_no_gap_and_no_duplicate(running: ApiStation) -> None:
    stop = threading.Event()

    def churn() -> None:
        with running.client() as client:
            n = 0
            while not stop.is_set():
                n += 1
                client.set_local_max_current(1, 10 + n % 2)

    churner = threading.Thread(target=churn)
    churner.start()
    seen: list[tuple[str, dict[str, Any]]] = []
    try:
        with running.client() as watcher:
            for item in watcher.watch("evse/1/", idle_timeout_s=WAIT_S):
                seen.append(item)
                if sum(1 for _, p in seen if not p.get("snapshot")) >= 60:
                    break
    finally:
        stop.set()
        churner.join(WAIT_S)
    last: dict[str, int] = {}
    for topic, payload in seen:
        source = source_of(topic)
        if payload.get("snapshot"):
            assert payload["seq"] >= last.get(source, 0)
        else:
            assert payload["seq"] == last[source] + 1, f"gap or duplicate at {topic} {payload['seq']}"
        last[source] = payload["seq"]
    assert seen[0][1]["snapshot"] is True and "evse/1/evse_id" in [t for t, _ in seen]


def test_a_given_up_connector_is_unavailable(running: ApiStation) -> None:
    with running.client() as client:

        def gave_up() -> bool:
            return bool(client.status()["evses"][1]["supervisor"]["state"] == "gave_up")

        for kills in range(1, 10):
            client.chaos_kill(2, "session")

            def restarted_or_gave_up(kills: int = kills) -> bool:
                actor = session_actor(client, 2)
                return gave_up() or (actor["generation"] > kills and actor["state"] == "running")

            running.wait_until(restarted_or_gave_up, "a restart")
            if gave_up():
                break
        with pytest.raises(ApiError) as caught:
            client.pause_charging(2)
        assert caught.value.code == "unavailable"
        with pytest.raises(ApiError, match="disable then enable") as refused:
            client.restart(2)  # given up: only disable and enable bring it back
        assert refused.value.code == "unavailable"
        assert client.pause_charging(1) is False


def test_a_restart_waits_for_the_commands_before_it_and_those_after_wait_for_it(running: ApiStation) -> None:
    dealer = running.socket()
    commands = ["enable", "restart", "disable", "restart", "enable"]
    for request_id, cmd in enumerate(commands, 1):
        dealer.send(msgpack.packb({"id": request_id, "cmd": cmd, "evse": 1}))
    replies: list[dict[str, Any]] = []
    while len(replies) < len(commands):
        assert dealer.poll(int(WAIT_S * 1000)), replies
        replies.append(msgpack.unpackb(dealer.recv()))
    assert [(r["id"], r["ok"], r["result"]) for r in replies] == [(n, True, True) for n in range(1, 6)]
    with running.client() as client:
        supervision = client.status()["evses"][0]["supervisor"]
        assert [a["generation"] for a in supervision["actors"]] == [3, 3, 3, 3]
        assert supervision["failures"] == 0
        assert client.status()["evses"][0]["state"] == "Idle"  # enabled again, in order


# --- the real command line: evse-supervisor run, evsectl --------------------------------


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`evse-supervisor run` (no --chaos) on `:*`: (command endpoint, publish endpoint) as it reports them."""
    station = StationProcess(tmp_path_factory.mktemp("station"))
    try:
        yield station.command_endpoint, station.publish_endpoint
    finally:
        assert station.stop() == 0


def evsectl(endpoints: tuple[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "evsectl"), "--endpoint", endpoints[0], "--publish-endpoint", endpoints[1], *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_chaos_is_forbidden_without_chaos(process: tuple[str, str]) -> None:
    with Client(process[0], timeout_s=WAIT_S, retries=0) as client, pytest.raises(ApiError) as caught:
        client.chaos_kill(1, "session")
    assert caught.value.code == "forbidden" and "chaos" in caught.value.message


def test_evsectl_status_list_call_and_top(process: tuple[str, str]) -> None:
    status = evsectl(process, "status")
    assert status.returncode == 0 and "DE*PNX*E123456*1" in status.stdout
    listed = evsectl(process, "list", "--json")
    assert [e["index"] for e in json.loads(listed.stdout)] == [1, 2]
    enabled = evsectl(process, "call", "1", "enable")
    assert (enabled.returncode, enabled.stdout.strip()) == (0, "true")
    current = evsectl(process, "call", "DE*PNX*E123456*2", "set_local_max_current", "max_current=12.5")
    assert (current.returncode, current.stdout.strip()) == (0, "Success")
    snapshot = evsectl(process, "call", "-", "snapshot", "prefix=evse/2/", "--json")
    assert json.loads(snapshot.stdout)["vars"]["evse/2/limits"]["max_current"] == 12.5
    top = evsectl(process, "top", "--once")
    assert top.returncode == 0 and "DE*PNX*E123456*2" in top.stdout and "Idle" in top.stdout


def test_evsectl_reports_errors_and_silence(process: tuple[str, str]) -> None:
    refused = evsectl(process, "call", "1", "cancel_charging", "reason=Whim")
    assert refused.returncode == 1 and refused.stderr.startswith("evsectl: bad_args:")
    unknown = evsectl(process, "call", "7", "enable")
    assert unknown.returncode == 1 and unknown.stderr.startswith("evsectl: unknown_evse:")
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    mute = context.socket(zmq.ROUTER)  # takes requests, never answers
    mute.linger = 0
    mute.bind("tcp://127.0.0.1:*")
    try:
        nobody = (mute.getsockopt_string(zmq.LAST_ENDPOINT), process[1])
        silent = evsectl(nobody, "--timeout", "0.2", "--retries", "0", "list")
        assert silent.returncode == 3 and "no reply" in silent.stderr
    finally:
        context.destroy(linger=0)
