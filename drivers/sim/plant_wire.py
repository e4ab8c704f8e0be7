"""The wire between the sim drivers and the plant process: its endpoints and its messages.

The plant has two endpoints under the state dir: the drivers' (`plant-drivers.sock`: board
and meter operations, the keep-alive, the car's controls forwarded by a station) and the
public one (`plant.sock`, or `sim.plant_endpoint`: the `sim_*` commands, `ping` and
`plant_stop` in the request/reply format of the station's API). A path too long for
ZeroMQ's `ipc://` (107 bytes) becomes an abstract socket named from the state dir.

A driver request is one MessagePack map `{"id", "op", "evse", "args"}` from a DEALER; the
reply `{"id", "ok": true, "result"}` or `{"id", "ok": false, "kind", "message"}`, where
`kind` is one of `ERROR_KINDS`. The plant pushes `{"changed": evse_id}` to every link
attached to a connector whose car, faults or keep-alive changed what its board shows, and
`{"reports": [[evse_id, kind, value, error], ...]}` to a link that subscribed to a
connector's reports (`report` with `{"kind": "board" | "meter", "interval_s"}`): the
`status` (with its telemetry and `at_ns`) or the `reading` every interval, or the error
of a device that does not answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
from typing import Any

import msgpack
import zmq

from drivers.base import BoardCapabilities, BoardStatus, CPState, MeterReading, PilotSignal, Telemetry

IPC_PATH_MAX = 107  # bytes of a sockaddr_un path, ZeroMQ's limit for ipc://
PUBLIC_SOCKET = "plant.sock"
DRIVERS_SOCKET = "plant-drivers.sock"
KEEPALIVE_S = 1.0  # a board switches its power off when no station talked to it for this long

DRIVER_ERROR = "driver"  # the device does not answer (board_comm, meter_comm): DriverError
VALUE_ERROR = "value"  # an impossible value for a control: ValueError
DETACHED = "detached"  # the plant does not know this connector (it restarted): attach again
BAD_REQUEST = "bad_request"  # a message the plant cannot read
ERROR_KINDS = (DRIVER_ERROR, VALUE_ERROR, DETACHED, BAD_REQUEST)


def ipc_endpoint(path: pathlib.Path) -> str:
    """`ipc://<path>`, or an abstract socket named from the path where the path is too long."""
    text = str(path.absolute())
    if len(text.encode()) <= IPC_PATH_MAX:
        return f"ipc://{text}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return f"ipc://@evse-supervisor-{digest}"


def public_endpoint(state_dir: pathlib.Path, configured: str | None = None) -> str:
    """The plant's public endpoint: `sim.plant_endpoint`, else `ipc://<state_dir>/plant.sock`."""
    return configured if configured else ipc_endpoint(state_dir / PUBLIC_SOCKET)


def drivers_endpoint(state_dir: pathlib.Path) -> str:
    return ipc_endpoint(state_dir / DRIVERS_SOCKET)


_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # plain ints: an IntFlag's `&` runs Python code


def readable(sock: zmq.Socket[Any]) -> bool:
    """A message is waiting (ZMQ_EVENTS: no exception as a failed non-blocking recv raises,
    which pyzmq builds with an import in it each time)."""
    events: int = sock.getsockopt(_EVENTS)  # type: ignore[assignment]
    return bool(events & _POLLIN)


def pack(value: Any) -> bytes:
    data: bytes = msgpack.packb(value, use_bin_type=True)
    return data


def unpack(frame: bytes) -> Any:
    return msgpack.unpackb(frame, raw=False, strict_map_key=False)


# --- the drivers' values as plain maps -------------------------------------------------------


def capabilities_to_wire(caps: BoardCapabilities) -> dict[str, Any]:
    return dataclasses.asdict(caps)


def capabilities_from_wire(value: dict[str, Any]) -> BoardCapabilities:
    return BoardCapabilities(**value)


def status_to_wire(status: BoardStatus) -> dict[str, Any]:
    value = dataclasses.asdict(status)
    value["cp"] = status.cp.value
    return value


def status_from_wire(value: dict[str, Any]) -> BoardStatus:
    fields = dict(value)
    fields["cp"] = CPState(fields["cp"])
    fields["currents_a"] = _three(fields["currents_a"])
    return BoardStatus(**fields)


def pilot_to_wire(signal: PilotSignal) -> dict[str, Any]:
    return {"mode": signal.mode, "duty_percent": signal.duty_percent}


def pilot_from_wire(value: dict[str, Any]) -> PilotSignal:
    mode = value["mode"]
    if mode not in ("X1", "PWM", "F"):
        raise ValueError(f"unknown pilot mode {mode!r}")
    return PilotSignal(mode, float(value["duty_percent"]))


def telemetry_to_wire(telemetry: Telemetry) -> dict[str, Any]:
    return telemetry.to_payload()


def telemetry_from_wire(value: dict[str, Any]) -> Telemetry:
    return Telemetry(**value)


def reading_to_wire(reading: MeterReading) -> dict[str, Any]:
    return dataclasses.asdict(reading)


def reading_from_wire(value: dict[str, Any]) -> MeterReading:
    fields = dict(value)
    for name in ("power_w", "voltage_v", "current_a"):
        fields[name] = _three(fields[name])
    return MeterReading(**fields)


def _three(values: list[float]) -> tuple[float, float, float]:
    first, second, third = values
    return (float(first), float(second), float(third))
