"""The control channel between the root and its workers: heartbeats both ways, `ready` once.

A worker's DEALER, named `<worker id>.<generation>`, connects to the root's ROUTER. The
worker sends `{"t": "ready", ...}` once it serves (with what a full heartbeat carries),
then every `HEARTBEAT_S` `{"t": "hb", "stalled": [...]}` (its connectors whose supervisor
loop stalled), every `FULL_EVERY`th one with `"summary"` and `"figures"` (its connectors'
supervision and metrics figures); the root answers each heartbeat with `{"t": "ack"}`. A
worker that hears nothing from its root for `ROOT_LOSS_S` takes it for dead (its
connectors' power off, exit).
"""

from __future__ import annotations

from typing import Any

import msgpack

HEARTBEAT_S = 0.2
FULL_EVERY = 5  # beats: the connectors' summaries and figures once a second
ROOT_LOSS_S = 1.0  # + one heartbeat + power off: a worker is gone within 2 s of its root


def identity(worker_id: int, generation: int) -> bytes:
    return f"{worker_id}.{generation}".encode()


def parse_identity(frame: bytes) -> tuple[int, int] | None:
    try:
        worker_id, generation = frame.decode().split(".")
        return int(worker_id), int(generation)
    except ValueError:
        return None


def pack(message: dict[str, Any]) -> bytes:
    body: bytes = msgpack.packb(message)
    return body


def unpack(frame: bytes) -> dict[str, Any] | None:
    try:
        message = msgpack.unpackb(frame, raw=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return None
    return message if isinstance(message, dict) else None
