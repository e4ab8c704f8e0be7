"""The XPUB side: publications from any thread go out through one socket thread; heartbeats.

`PublicationSink.__call__` is the bus's sink: it only queues (never blocks the bus). The
socket thread packs and sends without blocking; a slow subscriber loses publications at
ZeroMQ's high-water mark.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from supervisor.api.sockets import readable

logger = logging.getLogger(__name__)

_Item = tuple[str, dict[str, Any]] | None
MAX_QUEUED = 100_000
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
    """Owns the XPUB socket through its thread; call it with (topic, payload) from anywhere."""

    def __init__(self, xpub: zmq.Socket[bytes]) -> None:
        self._xpub = xpub
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="api-xpub", daemon=True)
        self._packer = msgpack.Packer()  # this socket thread's own
        self._topics: dict[str, bytes] = {}
        self.dropped = 0
        self.sent = 0
        self.subscribed = threading.Event()  # a subscriber's first subscription came in
        self._eager_until_s = 0.0

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        if self._queue.qsize() >= MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.put((topic, payload))

    def start(self) -> None:
        self._eager_until_s = time.monotonic() + _UNSUBSCRIBED_FOR_S
        self._thread.start()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        try:
            while self._pump():
                self._discard_subscriptions()
        finally:
            self._xpub.close(linger=0)

    def _pump(self) -> bool:
        """Send what is queued (waiting a little for the first); False at the stop mark."""
        eager = not self.subscribed.is_set() and time.monotonic() < self._eager_until_s
        try:
            item = self._queue.get(timeout=_UNSUBSCRIBED_IDLE_S if eager else _IDLE_S)
        except queue.Empty:
            return True
        get, send = self._queue.get_nowait, self._send
        while item is not None:
            send(*item)
            try:
                item = get()
            except queue.Empty:
                return True
        return False

    def _send(self, topic: str, payload: dict[str, Any]) -> None:
        try:
            body = self._packer.pack(payload)
        except Exception:
            logger.exception("cannot pack the publication on %s; dropped", topic)
            self._packer.reset()
            return
        encoded = self._topics.get(topic)
        if encoded is None:
            if len(self._topics) >= _MAX_TOPICS:
                self._topics.clear()
            encoded = self._topics[topic] = topic.encode()
        try:
            self._xpub.send(encoded, _MORE)
            self._xpub.send(body, zmq.NOBLOCK)
            self.sent += 1
        except zmq.Again:
            self.dropped += 1

    def _discard_subscriptions(self) -> None:
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
