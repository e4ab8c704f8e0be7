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
from typing import Protocol

import zmq

from supervisor.api.inbox import Inbox

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

    def run(self, handler: Handler) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._wake, zmq.POLLIN)
        router, wake = self._router, self._wake
        try:
            while not self.stopping.is_set():
                ready = poller.poll(handler.timeout_ms(time.monotonic()))
                for sock, _ in ready:
                    if sock is router:
                        self._read_requests(handler)
                    elif sock is wake:
                        self._run_posted()
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
            if not _readable(router):
                return
            frames = router.recv_multipart()
            try:
                handle(*_split(frames))
            except Exception:
                logger.exception("failed to handle a request")

    def _run_posted(self) -> None:
        wake = self._wake
        while _readable(wake):
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


def _readable(sock: zmq.Socket[bytes]) -> bool:
    """A message is waiting (ZMQ_EVENTS: no system call, no exception as a failed recv has)."""
    events: int = sock.get(zmq.EVENTS)  # type: ignore[assignment]
    return bool(events & zmq.POLLIN)


def _split(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(the route to answer on, the request frames): REQ and DEALER-with-delimiter keep b""."""
    identity, rest = frames[0], frames[1:]
    if len(rest) >= 2 and rest[0] == b"":
        return [identity, b""], rest[1:]
    return [identity], rest
