"""The publication bus: numbers every publication per source and keeps the last value per topic.

Actors publish from their own threads; the bus assigns `seq` under one lock, remembers
the latest value of each topic for `snapshot`, and hands the payload to a sink (the XPUB
socket's thread) in `seq` order. It never blocks on a subscriber.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from drivers.clock import Clock

Sink = Callable[[str, dict[str, Any]], None]


def _discard(topic: str, payload: dict[str, Any]) -> None:
    """The sink before a socket is attached: publications are only remembered."""


class Bus:
    def __init__(self, epoch: str, clock: Clock) -> None:
        self.epoch = epoch
        self._clock = clock
        self._lock = threading.Lock()
        self._seq: dict[str, int] = {}
        self._last: dict[str, Any] = {}
        self._sink: Sink = _discard
        self._observers: tuple[Sink, ...] = ()

    def attach(self, sink: Sink) -> None:
        with self._lock:
            self._sink = sink

    def observe(self, observer: Sink) -> None:
        """Also hand every publication to `observer` (logs, metrics), after the sink, outside the lock.

        It runs on the publishing thread: it must return at once and never raise.
        """
        with self._lock:
            self._observers += (observer,)

    def publish(self, source: str, topic: str, value: Any, *, event_seq: int | None = None) -> None:
        with self._lock:
            seq = self._seq.get(source, 0) + 1
            self._seq[source] = seq
            payload: dict[str, Any] = {
                "epoch": self.epoch,
                "source": source,
                "seq": seq,
                "ts": self._clock.time(),
                "value": value,
            }
            if event_seq is not None:
                payload["event_seq"] = event_seq
            self._last[topic] = value
            self._sink(topic, payload)
            observers = self._observers
        for observer in observers:
            observer(topic, payload)

    def skip(self, source: str) -> None:
        """Leave a number out of `source`'s seq: subscribers see a gap (and snapshot again) where
        publications may have been lost (a worker process that died with some still unsent)."""
        with self._lock:
            self._seq[source] = self._seq.get(source, 0) + 1

    def snapshot(self, prefix: str = "") -> dict[str, Any]:
        """`{"epoch", "seq": {source: n}, "vars": {topic: value}}`, consistent with the stream."""
        with self._lock:
            variables = {
                t: v for t, v in self._last.items() if t.startswith(prefix) and t != "station/heartbeat"
            }
            return {"epoch": self.epoch, "seq": dict(self._seq), "vars": variables}

    def source(self, name: str) -> SourcePublisher:
        return SourcePublisher(self, name)


class SourcePublisher:
    """A `Publisher` for one source: `evse/<n>` publishes `evse/<n>/<variable>`."""

    def __init__(self, bus: Bus, source: str) -> None:
        self._bus = bus
        self.source = source

    def publish(self, variable: str, value: Any, *, event_seq: int | None = None) -> None:
        self._bus.publish(self.source, f"{self.source}/{variable}", value, event_seq=event_seq)
