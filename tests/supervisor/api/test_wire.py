"""The API server over real sockets, against the real station in this process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
from typing import Any

import msgpack
import pytest
import zmq

from supervisor.api import ApiServer
from supervisor.client import ApiError, Client
from supervisor.station import Station
from tests.live import WAIT_S, ask, code_of, in_seconds, live_settings, nested, session_actor
from tests.supervisor.api.conftest import ApiStation

EVSE_IDS = ["DE*PNX*E123456*1", "DE*PNX*E123456*2"]


def receive(sock: zmq.Socket[bytes]) -> list[bytes]:
    assert sock.poll(int(WAIT_S * 1000), zmq.POLLIN), "no reply"
    return sock.recv_multipart()


def reservation(request_id: Any, client: str, evse: int, **fields: Any) -> dict[str, Any]:
    args = {"reservation_id": 7, "auth_token": "T7", "expiry_date": in_seconds(600)}
    return {"id": request_id, "client": client, "cmd": "reserve_now", "evse": evse, "args": args, **fields}


def reservation_starts(api: ApiStation, evse: int) -> int:
    with api.client() as client:
        events = client.get_events(evse, since=0)["events"]
    return [e["value"]["event"] for e in events].count("ReservationStart")


def session_restarted(api: ApiStation, evse: int) -> None:
    """Wait until the hung session actor's next generation runs."""

    def running_again() -> bool:
        with api.client() as client:
            session = session_actor(client, evse)
        return bool(session["generation"] > 1 and session["state"] == "running")

    api.wait_until(running_again, "new session generation")


def test_req_client_gets_the_reply_shape_of_wire_md(api: ApiStation) -> None:
    req = api.socket(zmq.REQ)
    req.send(msgpack.packb({"v": 1, "id": 5, "cmd": "ping"}))
    assert req.poll(int(WAIT_S * 1000))
    reply = msgpack.unpackb(req.recv())
    assert reply["v"] == 1 and reply["id"] == 5 and reply["ok"] is True
    assert reply["result"]["epoch"] == api.backend.epoch and reply["result"]["uptime_s"] >= 0


def test_dealer_without_delimiter_gets_one_frame_back(api: ApiStation) -> None:
    sock = api.socket()
    sock.send(msgpack.packb({"id": "x", "cmd": "version"}))
    frames = receive(sock)
    assert len(frames) == 1
    assert msgpack.unpackb(frames[0])["result"]["api"] == 1


def test_dealer_with_delimiter_gets_it_back(api: ApiStation) -> None:
    reply = ask(api.socket(), {"id": 1, "cmd": "enable", "evse": EVSE_IDS[1]})
    assert reply == {"v": 1, "id": 1, "ok": True, "result": True}


BAD_REQUESTS = [
    (b"\xc1 not msgpack", "bad_request", None),
    (msgpack.packb([1, 2, 3]), "bad_request", None),
    ({"id": 3}, "bad_request", 3),
    ({"cmd": "ping"}, "bad_request", None),
    ({"id": 3, "cmd": "ping", "evse": 1}, "bad_request", 3),
    ({"id": 3, "cmd": "enable"}, "bad_request", 3),
    ({"id": 3, "cmd": "fly", "evse": 1}, "unknown_command", 3),
    ({"id": 3, "cmd": "enable", "evse": 9}, "unknown_evse", 3),
    ({"id": 3, "cmd": "enable", "evse": "DE*PNX*E123456*9"}, "unknown_evse", 3),
    ({"id": 3, "cmd": "enable", "evse": 1, "args": {"now": True}}, "bad_args", 3),
    ({"id": 3, "cmd": "cancel_charging", "evse": 1, "args": {"reason": "Bored"}}, "bad_args", 3),
    ({"id": 3, "cmd": "get_events", "evse": 1, "args": {"since": -1}}, "bad_args", 3),
    # a car needs some current: the table refuses 0 A before the simulator sees it
    ({"id": 3, "cmd": "sim_plug_in", "evse": 1, "args": {"max_current_a": 0}}, "bad_args", 3),
    ({"id": 3, "cmd": "ping", "args": {"pad": "x" * 70_000}}, "bad_request", None),
    ({"id": 3, "cmd": "ping", "args": {"deep": nested(32)}}, "bad_request", None),
    (b"\x00\xc1 garbage", "bad_request", None),
    (msgpack.packb([{"id": 1, "cmd": "ping"}]), "bad_request", None),
    ({"id": 1, "evse": 1}, "bad_request", 1),
    ({"v": 1, "cmd": "ping"}, "bad_request", None),
    ({"id": 1, "cmd": "set_local_max_current", "evse": 1, "args": {"max_current": "16"}}, "bad_args", 1),
    ({"id": 1, "cmd": "reserve_now", "evse": 1, "args": {
        "reservation_id": 1, "auth_token": "T", "expiry_date": "next week"}}, "bad_args", 1),
    ({"id": 1, "cmd": "reserve_now", "evse": 1, "args": {
        "reservation_id": 1, "auth_token": "T", "expiry_date": "2030-01-01T00:00:00"}}, "bad_args", 1),
    ({"id": 1, "cmd": "enable", "evse": 1, "args": {"x": nested(40)}}, "bad_request", None),
]  # fmt: skip


def test_every_bad_request_gets_one_clear_error(api: ApiStation) -> None:
    sock = api.socket()
    for message, code, reply_id in BAD_REQUESTS:
        reply = ask(sock, message)
        assert code_of(reply) == code, message
        assert reply["id"] == reply_id
        assert ask(sock, {"id": 4, "cmd": "ping"})["ok"] is True
    assert ask(sock, {"id": 2, "cmd": "ping"})["result"]["epoch"] == api.backend.epoch


def test_sim_command_reaches_a_sim_connector(api: ApiStation) -> None:
    with api.client() as client:
        assert client.sim_plug_in(1, soc=0.5, phases=1) is True

        def started() -> bool:
            return any(e["value"]["event"] == "SessionStarted" for e in client.get_events(1)["events"])

        api.wait_until(started, "the plug-in's SessionStarted")
        assert client.list_evses(evse_from=1, evse_to=1)[0]["state"] == "WaitingForAuthentication"


def test_a_connector_without_a_simulated_board_refuses_sim_commands(tmp_path: pathlib.Path) -> None:
    """The real station, its second connector's board named another driver.

    Only the simulator exists as a board driver today, so the configuration loader
    refuses any other name; the settings are changed after loading to see the API
    refuse sim_* where the station says the board is not simulated.
    """
    settings = live_settings(tmp_path)
    first, second = settings.connectors
    other = dataclasses.replace(second, board_driver="modbus")
    api = ApiStation(dataclasses.replace(settings, connectors=(first, other)))
    try:
        sock = api.socket()
        refused = ask(sock, {"id": 1, "cmd": "sim_unplug", "evse": 2})
        assert code_of(refused) == "forbidden" and "simulated" in refused["error"]["message"]
        assert ask(sock, {"id": 2, "cmd": "sim_unplug", "evse": 1})["result"] is False  # nothing plugged
    finally:
        api.close()


def test_dates_reach_the_station_as_unix_seconds(api: ApiStation) -> None:
    with api.client() as client:
        assert client.reserve_now(2, 7, "TOKEN", "2030-01-01T01:00:00+01:00") == "Accepted"
        half_an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
        local = half_an_hour_ago.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat(timespec="seconds")
        assert client.reserve_now(1, 8, "TOKEN", local) == "Rejected"  # its offset was taken into account
    if isinstance(api.backend, Station):  # the expiry itself is seen only inside the connector
        made = api.backend.connector(2).state.reservation
        assert made is not None and made.expiry_time == 1893456000.0 and made.reservation_id == 7


def test_a_full_queue_answers_busy_and_the_rest_in_order(api: ApiStation) -> None:
    with api.client() as client:
        assert client.chaos_hang(1, "session", 1.0) is True
    sock = api.socket()
    for n in range(66):  # one runs (stuck behind the hang), 64 wait, then busy
        sock.send(msgpack.packb({"id": n, "cmd": "pause_charging", "evse": 1}))
    first = msgpack.unpackb(receive(sock)[0])
    assert first["id"] in (64, 65) and code_of(first) == "busy"
    assert ask(api.socket(), {"id": "other", "cmd": "enable", "evse": 2})["result"] is True
    replies = [msgpack.unpackb(receive(sock)[0]) for _ in range(65)]
    busy = [first["id"]] + [r["id"] for r in replies if not r["ok"] and r["error"]["code"] == "busy"]
    # 64 wait; the worker takes the first one off the queue at a moment of its own choosing
    assert set(busy) <= {64, 65}
    answered = [r for r in replies if r["id"] not in busy]
    assert [r["id"] for r in answered] == [n for n in range(66) if n not in busy]
    assert all(r["result"] is False for r in answered)  # nothing to pause: no session


def test_timeout_then_a_retry_gets_the_real_result_run_once(api: ApiStation) -> None:
    with api.client() as client:
        assert client.chaos_hang(1, "session", 1.5) is True
    sock = api.socket()
    request = reservation(11, "c1", 1, timeout_ms=100)
    assert code_of(ask(sock, request)) == "timeout"
    session_restarted(api, 1)
    retry = api.socket()
    accepted = {"v": 1, "id": 11, "ok": True, "result": "Accepted"}
    assert ask(retry, {**request, "timeout_ms": 5000}) == accepted
    assert ask(sock, request) == accepted  # from the store
    assert reservation_starts(api, 1) == 1


def test_a_retry_while_the_original_runs_is_answered_once_with_its_result(api: ApiStation) -> None:
    with api.client() as client:
        assert client.chaos_hang(2, "session", 1.0) is True
    original, retry = api.socket(), api.socket()
    request = reservation("r", "c2", 2)
    original.send(msgpack.packb(request))
    retry.send(msgpack.packb(request))
    assert ask(retry, {"id": "p", "cmd": "ping"})["ok"] is True  # the retry was taken in meanwhile
    assert msgpack.unpackb(receive(original)[0])["result"] == "Accepted"
    assert msgpack.unpackb(receive(retry)[0])["result"] == "Accepted"
    assert reservation_starts(api, 2) == 1
    assert not retry.poll(0)


def test_station_commands_that_ask_the_station(api: ApiStation) -> None:
    with api.client() as client:
        assert [entry["evse_id"] for entry in client.list_evses()] == EVSE_IDS
        assert client.status()["epoch"] == api.backend.epoch
        names = {entry["name"] for entry in client.list_commands()}
        assert {"reserve_now", "snapshot", "status", "chaos_hang"} <= names
        assert client.version()["api"] == 1


def test_client_raises_api_errors(api: ApiStation) -> None:
    with api.client() as client:
        with pytest.raises(ApiError) as caught:
            client.cancel_charging(1, "Bored")
        assert caught.value.code == "bad_args" and "Bored" in caught.value.message


def test_client_gives_up_with_timeout_error_when_nobody_answers() -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    silent = context.socket(zmq.ROUTER)
    silent.linger = 0
    silent.bind("tcp://127.0.0.1:*")
    endpoint = silent.getsockopt_string(zmq.LAST_ENDPOINT)
    try:
        with (
            Client(endpoint, timeout_s=0.05, retries=2, context=context) as client,
            pytest.raises(TimeoutError),
        ):
            client.ping()
        requests = []
        while silent.poll(0):
            requests.append(msgpack.unpackb(silent.recv_multipart()[-1]))
        assert len(requests) == 3
        assert {(r["client"], r["id"]) for r in requests} == {(client.client_id, 1)}
    finally:
        context.destroy(linger=0)


def test_publications_and_heartbeats_reach_a_subscriber(api: ApiStation) -> None:
    sub = api.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"station/heartbeat")
    assert sub.poll(int(WAIT_S * 1000))
    topic, body = sub.recv_multipart()
    payload = msgpack.unpackb(body)
    assert topic == b"station/heartbeat"
    assert payload["source"] == "station" and payload["epoch"] == api.backend.epoch
    assert payload["value"]["evses"][0] == {"index": 1, "state": "Idle", "restarts": 0, "failures": 0}


def test_stop_is_idempotent_and_a_taken_port_fails_to_start(tmp_path: pathlib.Path) -> None:
    settings = live_settings(tmp_path)
    station = Station.build(settings)
    first = ApiServer(settings.api, station)
    first.start()
    try:
        taken = dataclasses.replace(settings.api, command_endpoint=first.command_endpoint)
        with pytest.raises(zmq.ZMQError):
            ApiServer(taken, station).start()
    finally:
        first.stop()
        first.stop()
