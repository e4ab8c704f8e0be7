"""What the API's socket loops share: reading a ZeroMQ socket until it is empty."""

from __future__ import annotations

from typing import Any

import zmq

_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # plain ints: an IntFlag's `&` runs Python code


def readable(sock: zmq.Socket[Any]) -> bool:
    """A message is waiting (ZMQ_EVENTS: no system call, and no exception as a failed
    non-blocking recv raises: pyzmq builds a `zmq.Again` with an import in it each time)."""
    events: int = sock.getsockopt(_EVENTS)  # type: ignore[assignment]
    return bool(events & _POLLIN)
