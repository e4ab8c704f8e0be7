"""The publication bus: numbers every publication per source and keeps the last value per topic.

Actors publish from their own threads; the bus assigns `seq` under its source's lock,
remembers the latest value of each topic for `snapshot`, and hands the payload to a sink
(the XPUB socket's thread) in `seq` order. It never blocks on a subscriber.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from drivers.clock import Clock

Sink = Callable[[str, dict[str, Any]], None]


def _discard(topic: str, payload: dict[str, Any]) -> None:
    """The sink before a socket is attached: publications are only remembered."""


class _Source:
    """One source's numbering and last values: its own lock, so sources never wait on each other."""

    __slots__ = ("last", "lock", "seq")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq = 0
        self.last: dict[str, Any] = {}


class Bus:
    def __init__(self, epoch: str, clock: Clock) -> None:
        self.epoch = epoch
        self._clock = clock
        self._lock = threading.Lock()  # the table of sources, the sink and the observers
        self._sources: dict[str, _Source] = {}
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

    def _source(self, name: str) -> _Source:
        found = self._sources.get(name)
        if found is None:
            with self._lock:
                found = self._sources.setdefault(name, _Source())
        return found

    def publish(self, source: str, topic: str, value: Any, *, event_seq: int | None = None) -> None:
        """Number it in its source's order and hand it to the sink in that order.

        Only the source's own lock is held: a thousand connectors publishing at once do not
        queue behind one lock (each hand-over of a contended lock waits for the GIL).
        """
        state = self._source(source)
        with state.lock:
            state.seq += 1
            payload: dict[str, Any] = {
                "epoch": self.epoch,
                "source": source,
                "seq": state.seq,
                "ts": self._clock.time(),
                "value": value,
            }
            if event_seq is not None:
                payload["event_seq"] = event_seq
            state.last[topic] = value
            self._sink(topic, payload)
        for observer in self._observers:
            observer(topic, payload)

    def skip(self, source: str) -> None:
        """Leave a number out of `source`'s seq: subscribers see a gap (and snapshot again) where
        publications may have been lost (a worker process that died with some still unsent)."""
        state = self._source(source)
        with state.lock:
            state.seq += 1

    def snapshot(self, prefix: str = "") -> dict[str, Any]:
        """`{"epoch", "seq": {source: n}, "vars": {topic: value}}`: each source's vars as of its
        seq (what a late joiner needs to drop the publications it already has)."""
        with self._lock:
            sources = list(self._sources.items())
        seq: dict[str, int] = {}
        variables: dict[str, Any] = {}
        for name, state in sources:
            with state.lock:
                seq[name] = state.seq
                variables.update(
                    (t, v) for t, v in state.last.items() if t.startswith(prefix) and t != "station/heartbeat"
                )
        return {"epoch": self.epoch, "seq": seq, "vars": variables}

    def source(self, name: str) -> SourcePublisher:
        return SourcePublisher(self, name)


class SourcePublisher:
    """A `Publisher` for one source: `evse/<n>` publishes `evse/<n>/<variable>`."""

    def __init__(self, bus: Bus, source: str) -> None:
        self._bus = bus
        self.source = source

    def publish(self, variable: str, value: Any, *, event_seq: int | None = None) -> None:
        self._bus.publish(self.source, f"{self.source}/{variable}", value, event_seq=event_seq)
