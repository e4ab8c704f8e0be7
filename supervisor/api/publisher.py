"""The XPUB side: publications from any thread go out on the publishing thread; heartbeats.

`PublicationSink.__call__` is the bus's sink: it packs on the calling thread and sends under
the socket's lock without blocking (a slow subscriber loses publications at ZeroMQ's
high-water mark), so a publication costs no thread hand-off. The sink's own thread only
reads the subscriptions, a few times a second, so that they never pile up in the socket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from drivers.sockets import readable

logger = logging.getLogger(__name__)

SNDHWM = 100_000  # per subscriber; beyond it ZeroMQ drops for that subscriber, never blocks
_IDLE_S = 0.1
_UNSUBSCRIBED_IDLE_S = 0.005  # until the first subscription: a worker waits for its root's before it starts
_UNSUBSCRIBED_FOR_S = 5.0  # ... for so long after the start, then at the idle pace anyway
_MAX_TOPICS = 10_000  # encoded topics kept
_MORE = zmq.SNDMORE | zmq.NOBLOCK


def configure_xpub(xpub: zmq.Socket[bytes]) -> None:
    """Options of the publication socket; set before it binds (they apply to new subscribers)."""
    xpub.linger = 0
    xpub.sndhwm = SNDHWM


class PublicationSink:
    """Owns the XPUB socket (every use under its lock); call it with (topic, payload) from anywhere."""

    def __init__(self, xpub: zmq.Socket[bytes]) -> None:
        self._xpub = xpub
        self._lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="api-xpub", daemon=True)
        self._topics: dict[str, bytes] = {}
        self.dropped = 0
        self.sent = 0
        self.subscribed = threading.Event()  # a subscriber's first subscription came in
        self._eager_until_s = 0.0

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        try:
            body: bytes = msgpack.packb(payload)
        except Exception:
            logger.exception("cannot pack the publication on %s; dropped", topic)
            return
        encoded = self._topics.get(topic)
        if encoded is None:
            if len(self._topics) >= _MAX_TOPICS:
                self._topics.clear()
            encoded = self._topics[topic] = topic.encode()
        with self._lock:
            if self._closed:
                return
            try:
                self._xpub.send(encoded, _MORE)
                self._xpub.send(body, zmq.NOBLOCK)
                self.sent += 1
            except zmq.Again:
                self.dropped += 1

    def start(self) -> None:
        self._eager_until_s = time.monotonic() + _UNSUBSCRIBED_FOR_S
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stopping.set()
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        try:
            while not self._stopping.wait(self._idle_s()):
                self._read_subscriptions()
        finally:
            with self._lock:
                self._closed = True
                self._xpub.close(linger=0)

    def _idle_s(self) -> float:
        eager = not self.subscribed.is_set() and time.monotonic() < self._eager_until_s
        return _UNSUBSCRIBED_IDLE_S if eager else _IDLE_S

    def _read_subscriptions(self) -> None:
        with self._lock:
            while readable(self._xpub):
                self._xpub.recv()
                self.subscribed.set()


class Heartbeat:
    """Calls `beat` every interval_s on its own thread (the first one at once)."""

    def __init__(self, beat: Callable[[], None], interval_s: float = 1.0) -> None:
        self._beat = beat
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="api-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stopping.set()
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        next_beat = time.monotonic()
        while not self._stopping.wait(max(0.0, next_beat - time.monotonic())):
            try:
                self._beat()
            except Exception:
                logger.exception("heartbeat failed")
            next_beat = max(next_beat + self._interval_s, time.monotonic())
