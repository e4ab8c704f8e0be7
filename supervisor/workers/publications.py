"""The workers' publications, renumbered by the root: one SUB to every worker's XPUB, onto the root's bus.

A worker's `seq` is its own; the root's bus numbers each source again, so a worker's
restart never restarts a source's numbering within the root's epoch, and the root's
`snapshot` holds every variable. The workers' own station heartbeat and energy view stay
in the workers: the root publishes its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import msgpack
import zmq

from supervisor.station.bus import Bus
from supervisor.workers.reader import SocketReader

log = logging.getLogger("evse_supervisor.workers")

RELAYED = (b"evse/", b"station/supervision")


class PublicationRelay:
    def __init__(self, bus: Bus, endpoints: Sequence[str]) -> None:
        self._bus = bus
        self._reader = SocketReader(zmq.SUB, "workers-publications", self._frames)
        sub = self._reader.socket
        sub.rcvhwm = 0  # never drop: the root's XPUB is where slow subscribers lose
        sub.setsockopt(zmq.RECONNECT_IVL, 10)
        for prefix in RELAYED:
            sub.setsockopt(zmq.SUBSCRIBE, prefix)
        for endpoint in endpoints:
            sub.connect(endpoint)
        self.relayed = 0

    def start(self) -> None:
        self._reader.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        self._reader.stop(timeout_s)

    def _frames(self, frames: list[bytes]) -> None:
        if len(frames) == 2:
            self._relay(frames[0], frames[1])

    def _relay(self, topic: bytes, body: bytes) -> None:
        try:
            payload = msgpack.unpackb(body, raw=False, strict_map_key=False)
            source, value = payload["source"], payload["value"]
        except (ValueError, KeyError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
            log.warning("a worker's publication on %r could not be read; dropped", topic[:64])
            return
        self._bus.publish(source, topic.decode(), value, event_seq=payload.get("event_seq"))
        self.relayed += 1
