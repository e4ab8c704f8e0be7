"""One socket read on a thread of its own: every message handed on, until stopped.

    reader = SocketReader(zmq.PULL, "workers-logs", handle)   # handle(frames) on the thread
    reader.socket.bind(endpoint)                              # set up before `start`
    reader.start()
    reader.stop()     # the thread ends within a poll; the socket closed, the context termed

The socket is made, bound or connected on the caller's thread and used only on the
reader's from `start` on (one socket, one thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import zmq

POLL_MS = 100  # how soon `stop` is seen


class SocketReader:
    def __init__(self, kind: int, name: str, handle: Callable[[list[bytes]], None]) -> None:
        self._context = zmq.Context()
        self.socket: zmq.Socket[bytes] = self._context.socket(kind)
        self.socket.linger = 0
        self._handle = handle
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        """The thread ended and the context termed; a thread still in `handle` after `timeout_s`
        keeps the context (terming it would block)."""
        self._stopping.set()
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self._context.term()

    def _run(self) -> None:
        socket = self.socket
        try:
            while not self._stopping.is_set():
                if socket.poll(POLL_MS):
                    while socket.poll(0):
                        self._handle(socket.recv_multipart())
        finally:
            socket.close(linger=0)
