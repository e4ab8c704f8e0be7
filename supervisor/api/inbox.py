"""Work for the socket thread from other threads: a queue of callables, and an inproc PUSH to wake it.

Actor threads (a command's completion), the station worker and the bus (a supervision
event) post here; only the socket thread runs what was posted, so everything the ROUTER
and the request tables are touched by stays on that one thread. One wake is pending at
most: `rearm` (by the socket thread, before it drains) allows the next.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable

import zmq

Work = Callable[[], None]


class Inbox:
    def __init__(self, push: zmq.Socket[bytes]) -> None:
        self._queue: queue.SimpleQueue[Work] = queue.SimpleQueue()
        self._push = push
        self._lock = threading.Lock()
        self._closed = False
        self._signalled = False

    def post(self, work: Work) -> None:
        self._queue.put(work)
        if not self._signalled:
            self.wake()

    def wake(self) -> None:
        with self._lock:
            if not self._closed:
                self._signalled = True
                with contextlib.suppress(zmq.Again):  # wakes already pending: it will drain
                    self._push.send(b"", zmq.NOBLOCK)

    def rearm(self) -> None:
        """The socket thread is about to drain: the next post must wake it again."""
        self._signalled = False

    def drain(self) -> list[Work]:
        items = []
        get = self._queue.get_nowait
        while True:
            try:
                items.append(get())
            except queue.Empty:
                return items

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._push.close(linger=0)
