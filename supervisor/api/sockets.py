"""What the API's socket loops share: reading a ZeroMQ socket until it is empty."""

from __future__ import annotations

from typing import Any

import zmq


def readable(sock: zmq.Socket[Any]) -> bool:
    """A message is waiting (ZMQ_EVENTS: no system call, and no exception as a failed
    non-blocking recv raises: pyzmq builds a `zmq.Again` with an import in it each time)."""
    events: int = sock.get(zmq.EVENTS)  # type: ignore[assignment]
    return bool(events & zmq.POLLIN)
