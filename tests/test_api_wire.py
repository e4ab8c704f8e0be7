"""The API server over real sockets, with a small in-test station that implements Backend."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from drivers.clock import SystemClock
from supervisor.api import ApiServer
from supervisor.bus import Bus
from supervisor.client import ApiError, Client
from supervisor.errors import Unavailable
from supervisor.settings import ApiSettings

WAIT_S = 5.0


class LabStation:
    """Backend for the tests: `pause_charging` blocks while `gate` is closed; failures on demand."""

    def __init__(self, chaos: bool = False) -> None:
        self.epoch = uuid.uuid4().hex
        self.bus = Bus(self.epoch, SystemClock())
        self.chaos_enabled = chaos
        self.started_monotonic = time.monotonic()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Semaphore(0)
        self.calls: list[tuple[int, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def evse_count(self) -> int:
        return 2

    def resolve_evse(self, evse: int | str) -> int | None:
        names = {"LAB*1": 1, "LAB*2": 2}
        if isinstance(evse, str):
            return names.get(evse)
        return evse if evse in (1, 2) else None

    def is_sim(self, index: int) -> bool:
        return index == 1

    def call(self, index: int, command: str, args: dict[str, Any], timeout_s: float) -> Any:
        with self._lock:
            self.calls.append((index, command, args))
        if command == "pause_charging":
            self.entered.release()
            if not self.gate.wait(WAIT_S):
                raise Unavailable("the gate stayed closed")
        if command == "set_faulted":
            raise Unavailable(f"connector {index} was given up")
        if command == "force_unlock":
            raise RuntimeError("a bug in the station")
        if command == "resume_charging":
            raise ValueError("resume what?")
        if command == "get_signed_meter_value":
            return object()
        if command == "reserve_now":
            self.bus.publish(f"evse/{index}", f"evse/{index}/session_events", {"event": "ReservationStart"})
            return "Accepted"
        if command == "get_events":
            return {"events": [], "last_event_seq": 0, "args": args}
        return True

    def count(self, command: str) -> int:
        with self._lock:
            return sum(1 for _, name, _ in self.calls if name == command)

    def list_evses(self) -> list[dict[str, Any]]:
        return [{"index": n, "evse_id": f"LAB*{n}", "driver": "sim", "state": "Idle"} for n in (1, 2)]

    def status(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "evses": []}

    def supervision_summary(self) -> list[dict[str, Any]]:
        return [{"index": n, "state": "Idle", "restarts": 0} for n in (1, 2)]


LOOPBACK = ApiSettings(
    "tcp://127.0.0.1:0", "tcp://127.0.0.1:0", request_timeout_s=5.0, max_message_bytes=1024
)


@pytest.fixture
def lab() -> LabStation:
    return LabStation()


@pytest.fixture
def server(lab: LabStation) -> Iterator[ApiServer]:
    api = ApiServer(LOOPBACK, lab, heartbeat_interval_s=0.05)
    api.start()
    yield api
    lab.gate.set()
    api.stop()


class Sockets:
    """Sockets for one test, all closed at its end."""

    def __init__(self) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._open: list[zmq.Socket[bytes]] = []

    def socket(self, kind: int) -> zmq.Socket[bytes]:
        sock = self.context.socket(kind)
        sock.linger = 0
        self._open.append(sock)
        return sock

    def close(self) -> None:
        for sock in self._open:
            sock.close(linger=0)
        self.context.term()


@pytest.fixture
def context() -> Iterator[Sockets]:
    sockets = Sockets()
    yield sockets
    sockets.close()


def dealer(sockets: Sockets, server: ApiServer) -> zmq.Socket[bytes]:
    sock = sockets.socket(zmq.DEALER)
    sock.connect(server.command_endpoint)
    return sock


def receive(sock: zmq.Socket[bytes]) -> list[bytes]:
    assert sock.poll(int(WAIT_S * 1000), zmq.POLLIN), "no reply"
    return sock.recv_multipart()


def ask(sock: zmq.Socket[bytes], message: Any) -> dict[str, Any]:
    """Send with the delimiter, as REQ does; return the decoded reply."""
    body = message if isinstance(message, bytes) else msgpack.packb(message)
    sock.send_multipart([b"", body])
    frames = receive(sock)
    assert frames[0] == b""
    reply: dict[str, Any] = msgpack.unpackb(frames[-1])
    return reply


def code_of(reply: dict[str, Any]) -> str:
    assert reply["ok"] is False and reply["error"]["message"]
    return str(reply["error"]["code"])


def test_req_client_gets_the_reply_shape_of_wire_md(
    server: ApiServer, lab: LabStation, context: Sockets
) -> None:
    req = context.socket(zmq.REQ)
    req.connect(server.command_endpoint)
    req.send(msgpack.packb({"v": 1, "id": 5, "cmd": "ping"}))
    assert req.poll(int(WAIT_S * 1000))
    reply = msgpack.unpackb(req.recv())
    assert reply["v"] == 1 and reply["id"] == 5 and reply["ok"] is True
    assert reply["result"]["epoch"] == lab.epoch and reply["result"]["uptime_s"] >= 0


def test_dealer_without_delimiter_gets_one_frame_back(server: ApiServer, context: Sockets) -> None:
    sock = dealer(context, server)
    sock.send(msgpack.packb({"id": "x", "cmd": "version"}))
    frames = receive(sock)
    assert len(frames) == 1
    assert msgpack.unpackb(frames[0])["result"]["api"] == 1


def test_dealer_with_delimiter_gets_it_back(server: ApiServer, context: Sockets) -> None:
    sock = dealer(context, server)
    reply = ask(sock, {"id": 1, "cmd": "enable", "evse": "LAB*2"})
    assert reply == {"v": 1, "id": 1, "ok": True, "result": True}


@pytest.mark.parametrize(
    ("message", "code", "reply_id"),
    [
        (b"\xc1 not msgpack", "bad_request", None),
        (msgpack.packb([1, 2, 3]), "bad_request", None),
        ({"id": 3}, "bad_request", 3),
        ({"cmd": "ping"}, "bad_request", None),
        ({"id": 3, "cmd": "ping", "evse": 1}, "bad_request", 3),
        ({"id": 3, "cmd": "enable"}, "bad_request", 3),
        ({"id": 3, "cmd": "fly", "evse": 1}, "unknown_command", 3),
        ({"id": 3, "cmd": "enable", "evse": 9}, "unknown_evse", 3),
        ({"id": 3, "cmd": "enable", "evse": "LAB*9"}, "unknown_evse", 3),
        ({"id": 3, "cmd": "enable", "evse": 1, "args": {"now": True}}, "bad_args", 3),
        ({"id": 3, "cmd": "cancel_charging", "evse": 1, "args": {"reason": "Bored"}}, "bad_args", 3),
        ({"id": 3, "cmd": "sim_unplug", "evse": 2}, "forbidden", 3),
        ({"id": 3, "cmd": "chaos_kill", "evse": 1, "args": {"actor": "meter"}}, "forbidden", 3),
        ({"id": 3, "cmd": "set_faulted", "evse": 1}, "unavailable", 3),
        ({"id": 3, "cmd": "resume_charging", "evse": 1}, "bad_args", 3),
        ({"id": 3, "cmd": "force_unlock", "evse": 1}, "internal", 3),
        ({"id": 3, "cmd": "get_signed_meter_value", "evse": 1}, "internal", 3),
        ({"id": 3, "cmd": "ping", "args": {"pad": "x" * 2000}}, "bad_request", None),
        (
            {
                "id": 3,
                "cmd": "ping",
                "args": {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
            },
            "bad_request",
            None,
        ),
    ],
)
def test_every_bad_request_gets_one_clear_error(
    server: ApiServer,
    context: Sockets,
    message: Any,
    code: str,
    reply_id: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sock = dealer(context, server)
    reply = ask(sock, message)
    assert code_of(reply) == code
    assert reply["id"] == reply_id
    assert ask(sock, {"id": 4, "cmd": "ping"})["ok"] is True


def test_sim_command_reaches_a_sim_connector(server: ApiServer, lab: LabStation) -> None:
    with Client(server.command_endpoint, timeout_s=WAIT_S) as client:
        assert client.sim_plug_in(1, soc=0.5, phases=1) is True
    assert lab.calls == [(1, "sim_plug_in", {"soc": 0.5, "phases": 1})]


def test_dates_reach_the_station_as_unix_seconds(server: ApiServer, lab: LabStation) -> None:
    with Client(server.command_endpoint, timeout_s=WAIT_S) as client:
        assert client.reserve_now(2, 7, "TOKEN", "2030-01-01T01:00:00+01:00") == "Accepted"
    assert lab.calls == [
        (2, "reserve_now", {"reservation_id": 7, "auth_token": "TOKEN", "expiry_date": 1893456000.0})
    ]


def test_a_full_queue_answers_busy(server: ApiServer, lab: LabStation, context: Sockets) -> None:
    lab.gate.clear()
    sock = dealer(context, server)
    sock.send(msgpack.packb({"id": 0, "cmd": "pause_charging", "evse": 1}))
    assert lab.entered.acquire(timeout=WAIT_S)  # the first one runs; the next 64 wait
    for n in range(1, 66):
        sock.send(msgpack.packb({"id": n, "cmd": "pause_charging", "evse": 1}))
    busy = msgpack.unpackb(receive(sock)[0])
    assert busy["id"] == 65 and code_of(busy) == "busy"
    assert ask(sock, {"id": "other", "cmd": "enable", "evse": 2})["result"] is True
    lab.gate.set()
    replies = [msgpack.unpackb(receive(sock)[0]) for _ in range(65)]
    assert [reply["id"] for reply in replies] == list(range(65))
    assert all(reply["result"] is True for reply in replies)


def test_a_slow_connector_does_not_hold_up_another(server: ApiServer, lab: LabStation) -> None:
    lab.gate.clear()
    with (
        Client(server.command_endpoint, timeout_s=WAIT_S) as first,
        Client(server.command_endpoint) as second,
    ):
        first_done: list[Any] = []
        thread = threading.Thread(target=lambda: first_done.append(first.pause_charging(1)))
        thread.start()
        assert lab.entered.acquire(timeout=WAIT_S)
        assert second.enable(2) is True
        assert first_done == []
        lab.gate.set()
        thread.join(WAIT_S)
    assert first_done == [True]


def test_timeout_then_a_retry_gets_the_real_result_run_once(
    server: ApiServer, lab: LabStation, context: Sockets
) -> None:
    lab.gate.clear()
    sock = dealer(context, server)
    request = {"id": 11, "cmd": "pause_charging", "evse": 1, "client": "c1", "timeout_ms": 50}
    assert code_of(ask(sock, request)) == "timeout"
    retry = dealer(context, server)
    retry.send_multipart([b"", msgpack.packb({**request, "timeout_ms": 5000})])
    assert lab.entered.acquire(timeout=WAIT_S)
    lab.gate.set()
    assert msgpack.unpackb(receive(retry)[-1]) == {"v": 1, "id": 11, "ok": True, "result": True}
    assert ask(sock, request)["result"] is True  # from the store
    assert lab.count("pause_charging") == 1


def test_a_retry_while_the_original_runs_is_answered_once_with_its_result(
    server: ApiServer, lab: LabStation, context: Sockets
) -> None:
    lab.gate.clear()
    original, retry = dealer(context, server), dealer(context, server)
    request = {"id": "r", "cmd": "pause_charging", "evse": 2, "client": "c2"}
    original.send(msgpack.packb(request))
    assert lab.entered.acquire(timeout=WAIT_S)
    retry.send(msgpack.packb(request))
    assert ask(retry, {"id": "p", "cmd": "ping"})["ok"] is True  # the retry was taken in meanwhile
    lab.gate.set()
    assert msgpack.unpackb(receive(original)[0])["result"] is True
    assert msgpack.unpackb(receive(retry)[0])["result"] is True
    assert not retry.poll(50)
    assert lab.count("pause_charging") == 1


def test_a_retried_reservation_is_made_and_published_once(
    server: ApiServer, lab: LabStation, context: Sockets
) -> None:
    sock = dealer(context, server)
    request = {"id": 1, "cmd": "reserve_now", "evse": 1, "client": "op", "args": {
        "reservation_id": 1, "auth_token": "T", "expiry_date": "2030-01-01T00:00:00Z"}}  # fmt: skip
    first, second = ask(sock, request), ask(sock, request)
    assert first == second == {"v": 1, "id": 1, "ok": True, "result": "Accepted"}
    assert ask(sock, {**request, "client": "another"})["result"] == "Accepted"
    assert lab.count("reserve_now") == 2
    assert lab.bus.snapshot()["seq"]["evse/1"] == 2


def test_an_oversized_frame_drops_only_that_connection(server: ApiServer, context: Sockets) -> None:
    rude, polite = dealer(context, server), dealer(context, server)
    rude.send(b"x" * (16 * 1024 + 1))
    assert ask(polite, {"id": 1, "cmd": "ping"})["ok"] is True
    assert ask(rude, {"id": 2, "cmd": "ping"})["ok"] is True  # it reconnected on its own


def test_station_commands_that_ask_the_station(server: ApiServer, lab: LabStation) -> None:
    with Client(server.command_endpoint, timeout_s=WAIT_S) as client:
        assert [entry["evse_id"] for entry in client.list_evses()] == ["LAB*1", "LAB*2"]
        assert client.status()["epoch"] == lab.epoch
        names = {entry["name"] for entry in client.list_commands()}
        assert {"reserve_now", "snapshot", "status", "chaos_hang"} <= names
        assert client.version()["api"] == 1


def test_client_raises_api_errors(server: ApiServer) -> None:
    with Client(server.command_endpoint, timeout_s=WAIT_S) as client:
        with pytest.raises(ApiError) as caught:
            client.cancel_charging(1, "Bored")
        assert caught.value.code == "bad_args" and "Bored" in caught.value.message


def test_client_gives_up_with_timeout_error_when_nobody_answers(context: Sockets) -> None:
    silent = context.socket(zmq.ROUTER)
    silent.bind("tcp://127.0.0.1:*")
    endpoint = silent.getsockopt_string(zmq.LAST_ENDPOINT)
    with (
        Client(endpoint, timeout_s=0.05, retries=2, context=context.context) as client,
        pytest.raises(TimeoutError),
    ):
        client.ping()
    requests = []
    while silent.poll(0):
        requests.append(msgpack.unpackb(silent.recv_multipart()[-1]))
    assert len(requests) == 3
    assert {(r["client"], r["id"]) for r in requests} == {(client.client_id, 1)}


def test_publications_and_heartbeats_reach_a_subscriber(
    server: ApiServer, lab: LabStation, context: Sockets
) -> None:
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"station/heartbeat")
    sub.connect(server.publish_endpoint)
    assert sub.poll(int(WAIT_S * 1000))
    topic, body = sub.recv_multipart()
    payload = msgpack.unpackb(body)
    assert topic == b"station/heartbeat"
    assert payload["source"] == "station" and payload["epoch"] == lab.epoch
    assert payload["value"]["evses"][0] == {"index": 1, "state": "Idle", "restarts": 0}


def test_watch_joins_late_without_gap_or_duplicate(server: ApiServer, lab: LabStation) -> None:
    stop = threading.Event()

    def publish() -> None:
        n = 0
        while not stop.is_set() and n < 200_000:
            n += 1
            lab.bus.publish("evse/1", "evse/1/telemetry", {"n": n})

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        with Client(server.command_endpoint, server.publish_endpoint, timeout_s=WAIT_S) as client:
            seen = []
            for topic, payload in client.watch("evse/1/", idle_timeout_s=WAIT_S):
                seen.append((topic, payload))
                if len(seen) == 300:
                    break
    finally:
        stop.set()
        publisher.join()
    assert seen[0][1]["snapshot"] is True
    previous = None
    for _, payload in seen:
        n = payload["value"]["n"]
        if payload.get("snapshot"):
            assert previous is None or n >= previous
        else:
            assert n == payload["seq"]
            assert previous is not None and n == previous + 1, "a gap or a duplicate after the snapshot"
        previous = n
    assert sum(1 for _, p in seen if not p.get("snapshot")) > 0


def test_stop_is_idempotent_and_a_taken_port_fails_to_start(lab: LabStation) -> None:
    first = ApiServer(LOOPBACK, lab)
    first.start()
    try:
        taken = ApiSettings(first.command_endpoint, "tcp://127.0.0.1:0")
        with pytest.raises(zmq.ZMQError):
            ApiServer(taken, lab).start()
    finally:
        first.stop()
        first.stop()
