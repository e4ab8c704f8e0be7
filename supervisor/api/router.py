"""Socket I/O: the one thread that owns the ROUTER socket.

It reads requests (in batches, without a failing recv per wake), hands each to the
`Dispatcher` with the route to answer on, runs what other threads posted to its `Inbox`
(answers of actors and of the station worker, supervision events), and sends replies in
the shape the request had (REQ and DEALER-with-delimiter keep the empty frame).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import zmq

from supervisor.api.inbox import Inbox
from supervisor.api.sockets import readable

logger = logging.getLogger(__name__)

_BATCH = 256
_MORE = zmq.SNDMORE | zmq.NOBLOCK


class Handler(Protocol):
    def handle(self, route: list[bytes], body: list[bytes]) -> None: ...

    def expire(self, now: float) -> None: ...

    def timeout_ms(self, now: float) -> int | None: ...

    def flush(self) -> None:
        """The end of a round: what was decided in it goes out."""
        ...

    def idle(self) -> None:
        """Called when the poll timed out with nothing to read."""
        ...


class RequestLoop:
    def __init__(self, router: zmq.Socket[bytes], wake: zmq.Socket[bytes], inbox: Inbox) -> None:
        self._router = router
        self._wake = wake
        self._inbox = inbox
        self.stopping = threading.Event()
        self._poller = zmq.Poller()
        self._poller.register(router, zmq.POLLIN)
        self._poller.register(wake, zmq.POLLIN)
        self._readers: dict[zmq.Socket[bytes], Callable[[], None]] = {}

    def attach(self, socket: zmq.Socket[bytes], on_readable: Callable[[], None]) -> None:
        """Poll another socket too (the socket thread only): `on_readable()` when it has input."""
        self._poller.register(socket, zmq.POLLIN)
        self._readers[socket] = on_readable

    def detach(self, socket: zmq.Socket[bytes]) -> None:
        self._poller.unregister(socket)
        self._readers.pop(socket, None)

    def run(self, handler: Handler) -> None:
        poller, readers = self._poller, self._readers
        router, wake = self._router, self._wake
        try:
            while not self.stopping.is_set():
                ready = poller.poll(handler.timeout_ms(time.monotonic()))
                for sock, _ in ready:
                    if sock is router:
                        self._read_requests(handler)
                    elif sock is wake:
                        self._run_posted()
                    elif (reader := readers.get(sock)) is not None:
                        try:
                            reader()
                        except Exception:
                            logger.exception("failed to read a relayed reply")
                if not ready:
                    handler.idle()
                handler.expire(time.monotonic())
                handler.flush()
        finally:
            self._router.close(linger=0)
            self._wake.close(linger=0)

    def _read_requests(self, handler: Handler) -> None:
        router, handle = self._router, handler.handle
        for _ in range(_BATCH):
            if not readable(router):
                return
            frames = router.recv_multipart()
            try:
                handle(*_split(frames))
            except Exception:
                logger.exception("failed to handle a request")

    def _run_posted(self) -> None:
        wake = self._wake
        while readable(wake):
            wake.recv()
        self._inbox.rearm()
        for work in self._inbox.drain():
            try:
                work()
            except Exception:
                logger.exception("failed to deliver a reply")

    def send(self, route: list[bytes], reply: bytes) -> None:
        """Send one reply (socket thread only); a vanished or flooded peer loses it."""
        send = self._router.send
        try:
            for frame in route:
                send(frame, _MORE)
            send(reply, zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            logger.debug("reply dropped: %s", exc)


def _split(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(the route to answer on, the request frames): REQ and DEALER-with-delimiter keep b"";
    an envelope of more frames before the delimiter (a relay's tag) goes back as it came."""
    identity, rest = frames[0], frames[1:]
    if len(rest) >= 2 and rest[0] == b"":
        return [identity, b""], rest[1:]
    if len(rest) == 3 and rest[1] == b"":
        return [identity, rest[0], b""], rest[2:]
    return [identity], rest
