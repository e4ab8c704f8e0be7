"""Station commands asked of every serving worker at once (`status`), from a thread of the root's own."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

import msgpack
import zmq

_ids = itertools.count(1)


def ask_all(endpoints: Sequence[str], cmd: str, timeout_s: float) -> list[Any]:
    """Send `cmd` to every endpoint, then wait for all; a worker that does not answer in time gives None."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sockets: list[zmq.Socket[bytes]] = []
    try:
        for endpoint in endpoints:
            socket = context.socket(zmq.DEALER)
            socket.linger = 0
            socket.connect(endpoint)
            socket.send_multipart([b"", msgpack.packb({"v": 1, "id": next(_ids), "cmd": cmd})])
            sockets.append(socket)
        deadline_s = time.monotonic() + timeout_s
        return [_answer(socket, deadline_s) for socket in sockets]
    finally:
        for socket in sockets:
            socket.close(linger=0)


def _answer(socket: zmq.Socket[bytes], deadline_s: float) -> Any:
    left_ms = max(0, int((deadline_s - time.monotonic()) * 1000))
    if not socket.poll(left_ms):
        return None
    frames = socket.recv_multipart()
    try:
        reply = msgpack.unpackb(frames[-1], raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return None
    return reply.get("result") if isinstance(reply, dict) and reply.get("ok") else None
