"""A live station in this process: real actors, the real API server on loopback, a subscriber."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from supervisor.api import ApiServer
from supervisor.client import Client
from supervisor.config import load_config
from supervisor.config.settings import ApiSettings, StationSettings
from supervisor.station import Station
from supervisor.tree import SupervisionSettings
from supervisor.workers import ProcessStation

FAST_SUPERVISION = SupervisionSettings(
    intensity=50, period_s=30, backoff_min_s=0.01, backoff_max_s=0.1, ping_interval_s=0.1, ping_timeout_s=0.4
)


def embedded(settings: StationSettings) -> StationSettings:
    """The simulated hardware in the station's process: for a test that builds the station itself."""
    return dataclasses.replace(settings, sim=dataclasses.replace(settings.sim, plant="embedded"))


def in_processes(settings: StationSettings) -> StationSettings:
    """Process isolation: the connectors in worker processes, the simulated hardware in the plant's."""
    sim = dataclasses.replace(settings.sim, plant="process", plant_linger_s=2.0)
    return dataclasses.replace(settings, isolation="process", sim=sim)


def live_settings(state_dir: pathlib.Path, **changes: Any) -> StationSettings:
    api = ApiSettings(command_endpoint="tcp://127.0.0.1:*", publish_endpoint="tcp://127.0.0.1:*")
    settings = dataclasses.replace(
        embedded(load_config(None)), state_dir=state_dir, api=api, supervision=FAST_SUPERVISION, chaos=True
    )
    return dataclasses.replace(settings, **changes)


class Subscriber:
    """Every publication since it connected, decoded; `wait_for` polls the socket, never sleeps."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self.socket = context.socket(zmq.SUB)
        self.socket.linger = 0
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        self.socket.connect(endpoint)
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def _drain(self, timeout_s: float) -> None:
        if self.socket.poll(int(timeout_s * 1000), zmq.POLLIN):
            while self.socket.poll(0, zmq.POLLIN):
                topic, payload = self.socket.recv_multipart()
                self.seen.append((topic.decode(), msgpack.unpackb(payload)))

    def wait_for(self, topic: str, match: Any, timeout_s: float = 10.0) -> dict[str, Any]:
        """The first publication on `topic` whose value satisfies `match` (seen before or arriving)."""
        deadline = time.monotonic() + timeout_s
        while True:
            for seen_topic, payload in self.seen:
                if seen_topic == topic and match(payload["value"]):
                    return payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"nothing matching on {topic} within {timeout_s} s")
            self._drain(min(left, 0.1))

    def wait_event(self, index: int, event: str, timeout_s: float = 10.0) -> dict[str, Any]:
        payload = self.wait_for(f"evse/{index}/session_events", lambda v: v["event"] == event, timeout_s)
        value: dict[str, Any] = payload["value"]
        return value

    def values(self, topic: str) -> list[Any]:
        self._drain(0)
        return [p["value"] for t, p in self.seen if t == topic]

    def close(self) -> None:
        self.socket.close()


class LiveStation:
    """The real station and its API server in this process; clients and sockets close with it."""

    def __init__(self, settings: StationSettings, *, subscribe: bool = True) -> None:
        self.backend: Station | ProcessStation
        if settings.isolation == "process":  # the root here, its workers in processes of their own
            self.backend = ProcessStation.build(settings)
            self.server = ApiServer(settings.api, self.backend)
            self.server.start()
            self.backend.start()
            assert self.backend.wait_serving(WAIT_S), "the workers did not serve in time"
        else:
            self.backend = Station.build(settings)
            self.server = ApiServer(settings.api, self.backend)
            self.backend.start()
            self.server.start()
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._clients: list[Client] = []
        self._sockets: list[zmq.Socket[bytes]] = []
        self.subscriber = Subscriber(self.context, self.server.publish_endpoint)
        if subscribe:  # wait until the subscription is in place
            self.subscriber.wait_for("station/heartbeat", lambda v: True, 5.0)

    @property
    def station(self) -> Station:
        """The thread-isolated station's own objects (a test that reaches into a connector)."""
        assert isinstance(self.backend, Station), "a process-isolated station's connectors are in its workers"
        return self.backend

    def client(self, **options: Any) -> Client:
        """A client of this station; closed with the station."""
        client = Client(
            self.server.command_endpoint, self.server.publish_endpoint, context=self.context, **options
        )
        self._clients.append(client)
        return client

    def socket(self, kind: int = zmq.DEALER) -> zmq.Socket[bytes]:
        """A raw socket connected to the command endpoint (the publish endpoint for SUB)."""
        sock = self.context.socket(kind)
        sock.linger = 0
        self._sockets.append(sock)
        sock.connect(self.server.publish_endpoint if kind == zmq.SUB else self.server.command_endpoint)
        return sock

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Check `condition` now and after each station publication (supervision events, heartbeats)."""
        sub = self.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"station/")
        deadline = time.monotonic() + WAIT_S
        while not condition():
            left_s = deadline - time.monotonic()
            assert left_s > 0, f"no {what} within {WAIT_S} s"
            if sub.poll(int(left_s * 1000) + 1):
                while sub.poll(0):
                    sub.recv_multipart()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for sock in self._sockets:
            sock.close(linger=0)
        self.subscriber.close()
        self.server.stop()
        self.backend.stop()
        self.context.destroy(linger=0)


def session_actor(client: Client, evse: int) -> dict[str, Any]:
    """The connector's session actor as `status` shows it (role, generation, state, ...)."""
    actors = client.status()["evses"][evse - 1]["supervisor"]["actors"]
    actor: dict[str, Any] = next(a for a in actors if a["role"] == "session")
    return actor


def session_generation(client: Client, evse: int) -> int:
    return int(session_actor(client, evse)["generation"])


def nested(depth: int) -> Any:
    """A value nested `depth` lists deep (for the depth limit of requests)."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


WAIT_S = 10.0  # how long a test waits for a reply before it fails


def ask(sock: zmq.Socket[bytes], message: Any, delimiter: bool = True) -> dict[str, Any]:
    """Send `message` (packed unless bytes) with or without REQ's empty delimiter; the decoded reply."""
    body = message if isinstance(message, bytes) else msgpack.packb(message)
    sock.send_multipart([b"", body] if delimiter else [body])
    assert sock.poll(int(WAIT_S * 1000)), f"no reply to {message!r}"
    frames = sock.recv_multipart()
    assert (frames[0] == b"") == delimiter
    reply: dict[str, Any] = msgpack.unpackb(frames[-1])
    return reply


def code_of(reply: dict[str, Any]) -> str:
    """The error code of a failed reply, which must also carry a message."""
    assert reply["ok"] is False and reply["error"]["message"], reply
    return str(reply["error"]["code"])


def in_seconds(seconds: float) -> str:
    """An RFC 3339 UTC time `seconds` from now."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


_SERVING = re.compile(r"commands on (\S+), publications on (\S+)")


class StationProcess:
    """`evse-supervisor run` in a subprocess on `tcp://127.0.0.1:*`; the endpoints it reports.

    The station's log (its stderr) is read until the line naming the bound endpoints, then
    copied on to `log_path` by a thread; `stop()` ends it with SIGTERM and returns its status.
    """

    def __init__(self, state_dir: pathlib.Path, *flags: str) -> None:
        argv = [str(pathlib.Path(sys.executable).parent / "evse-supervisor"), "run", "--state-dir",
                str(state_dir), "--command-endpoint", "tcp://127.0.0.1:*",
                "--publish-endpoint", "tcp://127.0.0.1:*", *flags]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log_path = state_dir / "station.log"
        self.command_endpoint, self.publish_endpoint = self._endpoints()
        self._copier = threading.Thread(target=self._copy, daemon=True)
        self._copier.start()

    def _endpoints(self) -> tuple[str, str]:
        assert self.proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 2 * WAIT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = self.proc.stdout.readline() if ready else ""
            if not line:
                break
            seen.append(line)
            found = _SERVING.search(line)
            if found:
                self.log_path.write_text("".join(seen))
                return found.group(1).rstrip(","), found.group(2)
        self.proc.kill()
        self.proc.wait(WAIT_S)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        raise AssertionError("the station did not report its endpoints:\n" + "".join(seen))

    def _copy(self) -> None:
        assert self.proc.stdout is not None
        with open(self.log_path, "a") as log:
            for line in self.proc.stdout:
                log.write(line)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        status = self.proc.wait(WAIT_S)
        self._copier.join(WAIT_S)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return status
