"""What the plant sends by itself: a connector's board status with its telemetry, or its meter
reading, every interval a link subscribed to (no request a connector a second).

A link subscribes once per connector and kind (`report` on its own socket, as `watch`), and
its keep-alive keeps the subscription: a link silent for `PEER_SILENT_S` gets nothing until
it talks again, one silent for `PEER_FORGOTTEN_S` (a station that stopped: the next one has
a link of its own) loses its subscriptions. A connector's first report comes at a phase of
the interval drawn from its evse_id, so that a thousand connectors subscribed in the same
second do not all report in the same turn.
"""

from __future__ import annotations

import heapq
import itertools
import zlib
from dataclasses import dataclass

from drivers.sim import plant_wire as wire

__all__ = ["KINDS", "PEER_FORGOTTEN_S", "PEER_SILENT_S", "ReportSchedule"]

KINDS = ("board", "meter")
PEER_SILENT_S = 5 * wire.KEEPALIVE_S
PEER_FORGOTTEN_S = 60.0
MIN_INTERVAL_S = 0.05

Key = tuple[bytes, str, str]  # (link, evse_id, kind)


@dataclass
class _Subscription:
    interval_s: float
    due_s: float


class ReportSchedule:
    """Which link gets which connector's report when (the plant's thread alone uses it)."""

    def __init__(self) -> None:
        self._subscriptions: dict[Key, _Subscription] = {}
        self._heap: list[tuple[float, int, Key]] = []
        self._seq = itertools.count()
        self._heard_s: dict[bytes, float] = {}

    def __len__(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, peer: bytes, evse_id: str, kind: str, interval_s: float, now_s: float) -> None:
        """Report `kind` of the connector to `peer` every `interval_s` (a new interval replaces the old)."""
        if kind not in KINDS:
            raise ValueError(f"a report is one of {', '.join(KINDS)}, not {kind!r}")
        interval_s = max(MIN_INTERVAL_S, float(interval_s))
        self.heard(peer, now_s)
        key = (peer, evse_id, kind)
        known = self._subscriptions.get(key)
        if known is not None and known.interval_s == interval_s:
            return
        due_s = now_s + interval_s * _phase(evse_id)
        self._subscriptions[key] = _Subscription(interval_s, due_s)
        heapq.heappush(self._heap, (due_s, next(self._seq), key))

    def heard(self, peer: bytes, now_s: float) -> None:
        """The link talked to the plant (its keep-alive)."""
        self._heard_s[peer] = now_s

    def next_due_s(self) -> float | None:
        """When the next report may be due (or a replaced one drops out of the schedule)."""
        return self._heap[0][0] if self._heap else None

    def due(self, now_s: float) -> list[Key]:
        """The reports due now, each scheduled again one interval on (one missed is not made up)."""
        keys: list[Key] = []
        while self._heap and self._heap[0][0] <= now_s:
            due_s, _, key = heapq.heappop(self._heap)
            subscription = self._subscriptions.get(key)
            if subscription is None or subscription.due_s != due_s:
                continue  # replaced or forgotten since
            silent_s = now_s - self._heard_s.get(key[0], now_s)
            if silent_s >= PEER_FORGOTTEN_S:
                del self._subscriptions[key]
                continue
            if silent_s < PEER_SILENT_S:
                keys.append(key)
            subscription.due_s = max(due_s + subscription.interval_s, now_s + subscription.interval_s / 2)
            heapq.heappush(self._heap, (subscription.due_s, next(self._seq), key))
        return keys


def _phase(evse_id: str) -> float:
    """A fraction of the interval, the same for a connector each time (spreads first reports)."""
    return (zlib.crc32(evse_id.encode()) % 1000) / 1000.0
