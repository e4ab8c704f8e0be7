"""A station's plant: found on its state dir, or started there, detached, when none answers.

    handle = ensure_plant(state_dir, configured_endpoint, linger_s=30, time_scale=1)
    ... PlantLink(handle.drivers_endpoint, ...) ...
    handle.stop_if_ours()      # on a clean stop: a plant started by a station goes too

The plant started here runs in its own process session, so it outlives a SIGKILL of the
station, as hardware does; its output goes to `state_dir/plant.log`.
"""

from __future__ import annotations

import contextlib
import itertools
import pathlib
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import msgpack
import zmq

from drivers.sim import plant_wire as wire
from supervisor.plant.files import LOG_NAME

START_TIMEOUT_S = 10.0
PING_TIMEOUT_S = 1.0
_ids = itertools.count(1)


class PlantError(Exception):
    """No plant answers and none could be started; the message says where to look."""


def call(endpoint: str, cmd: str, timeout_s: float, **fields: Any) -> Any:
    """One request to the plant's public endpoint: its result; None when nothing answers in time;
    PlantError for an error reply."""
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 0
    try:
        socket.connect(endpoint)
        request_id = next(_ids)
        socket.send(msgpack.packb({"v": 1, "id": request_id, "cmd": cmd, **fields}))
        deadline_s = time.monotonic() + timeout_s
        while (left_s := deadline_s - time.monotonic()) > 0:
            if not socket.poll(int(left_s * 1000) + 1):
                return None
            reply = msgpack.unpackb(socket.recv(), raw=False)
            if reply.get("id") != request_id:
                continue
            if not reply.get("ok"):
                raise PlantError(f"the plant refused {cmd}: {reply.get('error')}")
            return reply.get("result")
        return None
    finally:
        socket.close()


@dataclass
class PlantHandle:
    endpoint: str
    drivers_endpoint: str
    pid: int
    started_by_station: bool
    process: subprocess.Popen[bytes] | None = None  # the plant this process started

    def describe(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "pid": self.pid}

    def stop_if_ours(self, timeout_s: float = 2.0) -> None:
        """A plant started by a station stops with a clean stop of a station on its state dir."""
        if self.started_by_station:
            with contextlib.suppress(PlantError):
                call(self.endpoint, "plant_stop", timeout_s)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout_s)  # reaped, not left a zombie


def ensure_plant(
    state_dir: pathlib.Path, configured: str | None, *, linger_s: float, time_scale: float
) -> PlantHandle:
    """The plant of the state dir, started when none runs there; PlantError when it does not come up."""
    endpoint = wire.public_endpoint(state_dir, configured)
    if _may_answer(endpoint):
        found = call(endpoint, "ping", PING_TIMEOUT_S)
        if found is not None:
            return _handle(state_dir, endpoint, found)
    process = _spawn(state_dir, configured, linger_s, time_scale)
    deadline_s = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline_s:
        found = call(endpoint, "ping", 0.2)
        if found is not None:
            return _handle(state_dir, endpoint, found, process)
        if process.poll() is not None:
            break  # it could not start (its log says why), or found another plant's lock
    process.kill()
    process.wait()
    raise PlantError(
        f"the simulated plant did not start on {state_dir} within {START_TIMEOUT_S:g} s; "
        f"see {state_dir / LOG_NAME}"
    )


def _may_answer(endpoint: str) -> bool:
    """False when nothing can be listening: an ipc:// path with no socket file."""
    path = endpoint.removeprefix("ipc://")
    return not endpoint.startswith("ipc://") or path.startswith("@") or pathlib.Path(path).exists()


def _handle(
    state_dir: pathlib.Path,
    endpoint: str,
    found: dict[str, Any],
    process: subprocess.Popen[bytes] | None = None,
) -> PlantHandle:
    if process is not None and found.get("pid") != process.pid:
        process.wait()  # another station's plant won the race; ours found its lock taken
        process = None
    return PlantHandle(
        endpoint,
        wire.drivers_endpoint(state_dir),
        int(found["pid"]),
        bool(found.get("started_by_station")),
        process,
    )


def _spawn(
    state_dir: pathlib.Path, configured: str | None, linger_s: float, time_scale: float
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "supervisor.cli.main",
        "plant",
        "--state-dir",
        str(state_dir),
        "--linger-s",
        f"{linger_s:g}",
        "--time-scale",
        f"{time_scale:g}",
        "--started-by-station",
    ]
    if configured:
        command += ["--endpoint", configured]
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / LOG_NAME, "ab") as output:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
