"""`Client.watch`: a snapshot, then the live stream, and after a gap the session events it hid.

Variables other than `session_events` are state: a new snapshot after a gap brings them
up to date. Session events are a history: the ones a gap (or a new epoch) hid are read
back with `get_events` from the last `event_seq` this watch delivered, before the new
snapshot; the live copies of events so replayed are then dropped by their `event_seq`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgpack
import zmq

if TYPE_CHECKING:
    from supervisor.client.client import Client

Item = tuple[str, dict[str, Any]]
_LATEST = 2**62  # a `since` beyond every event: only `last_event_seq` comes back


def source_of(topic: str) -> str:
    """The source that publishes a topic: `evse/<n>` or `station`."""
    parts = topic.split("/")
    return "/".join(parts[:2]) if parts[0] == "evse" else parts[0]


class Sequencer:
    """Decides for each publication: new, a duplicate of the snapshot, or a sign to resync."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self.epoch: str | None = None
        self._last: dict[str, int] = {}

    def apply_snapshot(self, snapshot: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        self.epoch = snapshot["epoch"]
        self._last = dict(snapshot["seq"])
        return [
            (
                topic,
                {
                    "value": value,
                    "snapshot": True,
                    "epoch": self.epoch,
                    "seq": self._last.get(source_of(topic), 0),
                },
            )
            for topic, value in sorted(snapshot["vars"].items())
        ]

    def judge(self, payload: dict[str, Any]) -> str:
        """ "new", "duplicate" or "resync" (a new epoch, or a gap in a source we see whole)."""
        if payload.get("epoch") != self.epoch:
            return "resync"
        source, seq = payload.get("source", ""), payload.get("seq", 0)
        last = self._last.get(source, 0)
        if seq <= last:
            return "duplicate"
        if seq > last + 1 and f"{source}/".startswith(self._prefix):
            return "resync"
        self._last[source] = seq
        return "new"

    def force(self, payload: dict[str, Any]) -> None:
        """Take a publication as new even after a fresh snapshot left a gap."""
        self.epoch = payload.get("epoch")
        self._last[payload.get("source", "")] = payload.get("seq", 0)


class Watch:
    """The state of one watch: its sequencer and, per connector source, the last event_seq delivered."""

    def __init__(self, client: Client, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self.sequencer = Sequencer(prefix)
        self.marks: dict[str, int] = {}

    def start(self) -> list[Item]:
        snapshot = self._client.snapshot(self._prefix)
        for source in _connector_sources(snapshot):
            self.marks[source] = self._client.get_events(_index(source), _LATEST)["last_event_seq"]
        return self.sequencer.apply_snapshot(snapshot)

    def resync(self, payload: dict[str, Any]) -> list[Item]:
        """After a gap in `payload`'s source (or a new epoch): the missed events, then a snapshot."""
        snapshot = self._client.snapshot(self._prefix)
        new_epoch = payload.get("epoch") != self.sequencer.epoch
        sources = set(self.marks) if new_epoch else {payload.get("source", "")} & set(self.marks)
        replayed = [item for source in sorted(sources) for item in self._replay(source, snapshot["epoch"])]
        return replayed + self.sequencer.apply_snapshot(snapshot)

    def accept(self, topic: str, payload: dict[str, Any]) -> bool:
        """False for a live session event already replayed."""
        event_seq = payload.get("event_seq")
        source = payload.get("source", "")
        if event_seq is None or source not in self.marks:
            return True
        if event_seq <= self.marks[source]:
            return False
        self.marks[source] = event_seq
        return True

    def _replay(self, source: str, epoch: str) -> list[Item]:
        events = self._client.get_events(_index(source), self.marks[source])["events"]
        topic = f"{source}/session_events"
        items = [(topic, _replayed(e, epoch)) for e in events]
        if events:
            self.marks[source] = events[-1]["event_seq"]
        return items


def _replayed(event: dict[str, Any], epoch: str) -> dict[str, Any]:
    value, event_seq, ts = event["value"], event["event_seq"], event["ts"]
    return {"value": value, "event_seq": event_seq, "ts": ts, "epoch": epoch, "replayed": True}


def _connector_sources(snapshot: dict[str, Any]) -> list[str]:
    return sorted({source_of(topic) for topic in snapshot["vars"] if topic.startswith("evse/")})


def _index(source: str) -> int:
    return int(source.split("/")[1])


def watch(client: Client, endpoint: str, prefix: str, idle_timeout_s: float | None) -> Iterator[Item]:
    sub = client._context.socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
    sub.connect(endpoint)
    state = Watch(client, prefix)
    sequencer = state.sequencer
    idle_ms = None if idle_timeout_s is None else int(idle_timeout_s * 1000)
    try:
        yield from state.start()
        while sub.poll(idle_ms, zmq.POLLIN):
            frames = sub.recv_multipart()
            topic, payload = frames[0].decode(), msgpack.unpackb(frames[-1], raw=False)
            verdict = sequencer.judge(payload)
            if verdict == "resync":
                yield from state.resync(payload)
                verdict = sequencer.judge(payload)
                if verdict == "resync":
                    sequencer.force(payload)
                    verdict = "new"
            if verdict == "new" and state.accept(topic, payload):
                yield topic, payload
    finally:
        sub.close(linger=0)
