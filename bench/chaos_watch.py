"""A subscriber to every publication of the station: supervision events, session events, energy."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from typing import Any

import msgpack
import zmq

Key = tuple[int, str]  # (evse, role)
RELAY_LAG_S = 0.5  # a dead worker's last publications may reach the root after its failure is told


CRASH_GAP_WINDOW_S = 2.0  # a crash's gap and its announcement are seen this close together at most


class Watcher(threading.Thread):
    """Reads the XPUB in its own thread; others wait on what it saw (`wait_generation`, `wait_hung`)."""

    def __init__(self, endpoint: str, context: zmq.Context[zmq.Socket[bytes]]) -> None:
        super().__init__(name="chaos-watcher", daemon=True)
        self._socket = context.socket(zmq.SUB)
        self._socket.linger = 0
        self._socket.rcvhwm = 0
        self._socket.setsockopt(zmq.SUBSCRIBE, b"")
        self._socket.connect(endpoint)
        self._halt = threading.Event()
        self._cond = threading.Condition()
        self.heartbeat = threading.Event()
        self.generations: dict[Key, list[tuple[int, float]]] = defaultdict(list)  # (generation, seen at)
        self.hung: dict[Key, list[float]] = defaultdict(list)
        self.supervision: Counter[str] = Counter()
        self.worker_supervision: Counter[str] = Counter()  # the events of "actor": "worker"
        self.given_up: list[dict[str, Any]] = []
        self.events: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)  # evse → event_seq → value
        self.event_seen: dict[int, dict[int, float]] = defaultdict(dict)  # evse → event_seq → first seen
        self.worker_crashes: dict[int, list[float]] = defaultdict(list)  # evse → its worker's failures seen
        self.energy_violations: list[str] = []
        self.powermeter_count = 0
        self._energy_wh: dict[int, float] = {}
        self._seq: dict[str, int] = {}
        self._gaps: list[tuple[str, int, int, float]] = []  # (source, last seq, seq, seen at)
        self.epochs: set[str] = set()
        self.publications = 0

    def seed(self, status: dict[str, Any]) -> None:
        """The generations running before the subscription, from `status`."""
        with self._cond:
            for entry in status["evses"]:
                for actor in entry["supervisor"]["actors"]:
                    key = (int(entry["index"]), str(actor["role"]))
                    if not self.generations[key]:
                        self.generations[key].append((int(actor["generation"]), time.monotonic()))

    def generation(self, evse: int, role: str) -> int:
        with self._cond:
            seen = self.generations.get((evse, role))
            return max(g for g, _ in seen) if seen else 0

    def wait_generation(self, evse: int, role: str, above: int, deadline: float) -> float | None:
        """When a generation above `above` of the role was first seen; None at the deadline."""
        with self._cond:
            while True:
                later = [t for g, t in self.generations.get((evse, role), []) if g > above]
                if later:
                    return min(later)
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    return None
                self._cond.wait(min(0.1, remaining_s))

    def wait_worker_failure(self, evse: int, after: float, deadline: float) -> float | None:
        """When the connector's worker was reported crashed or hung after `after`; None at the deadline."""
        with self._cond:
            while True:
                later = [t for t in self.worker_crashes.get(evse, []) if t >= after]
                if later:
                    return min(later)
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    return None
                self._cond.wait(min(0.1, remaining_s))

    def lost_at_a_crash(self, evse: int, seq: int) -> bool:
        """Whether the event's publication, never seen, fell between the last one seen before a
        failure of its worker and the first one after: "publications may miss an event published
        just before a crash" (durability.md)."""
        with self._cond:
            seen = self.event_seen.get(evse, {})
            before = [t for s, t in seen.items() if s < seq]
            after = [t for s, t in seen.items() if s > seq]
            last_before = max(before, default=-math.inf)
            first_after = min(after, default=math.inf)
            return any(
                last_before <= crash + RELAY_LAG_S and first_after >= crash
                for crash in self.worker_crashes.get(evse, [])
            )

    def wait_hung(self, evse: int, role: str, after: float, deadline: float) -> float | None:
        """When the role was reported hung after `after`; None at the deadline."""
        with self._cond:
            while True:
                later = [t for t in self.hung.get((evse, role), []) if t >= after]
                if later:
                    return min(later)
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    return None
                self._cond.wait(min(0.1, remaining_s))

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self._socket.close(linger=0)

    def run(self) -> None:
        while not self._halt.is_set():
            if not self._socket.poll(100, zmq.POLLIN):
                continue
            while self._socket.poll(0, zmq.POLLIN):
                topic, payload = self._socket.recv_multipart()
                self._take(topic.decode(), msgpack.unpackb(payload, raw=False), time.monotonic())

    def _take(self, topic: str, payload: dict[str, Any], seen_at: float) -> None:
        self.publications += 1
        self._check_seq(payload, seen_at)
        value: Any = payload.get("value")
        if topic == "station/heartbeat":
            self.heartbeat.set()
        elif topic == "station/supervision":
            self._supervision(value, seen_at)
        elif topic.endswith("/session_events"):
            evse, seq = int(topic.split("/")[1]), int(payload["event_seq"])
            with self._cond:
                self.events[evse][seq] = value
                self.event_seen[evse].setdefault(seq, seen_at)
        elif topic.endswith("/powermeter"):
            self._energy(int(topic.split("/")[1]), value)

    def _check_seq(self, payload: dict[str, Any], seen_at: float) -> None:
        self.epochs.add(str(payload.get("epoch")))
        source, seq = str(payload.get("source")), int(payload.get("seq", 0))
        last = self._seq.get(source)
        if last is not None and seq != last + 1:
            self._gaps.append((source, last, seq, seen_at))
        self._seq[source] = seq

    def _left_by_a_crash(self, source: str, last: int, seq: int, seen_at: float) -> bool:
        """The one number the root leaves out of a connector's seq when its worker dies."""
        if seq != last + 2 or not source.startswith("evse/"):
            return False
        crashes = self.worker_crashes.get(int(source.split("/")[1]), [])
        return any(abs(seen_at - crash) <= CRASH_GAP_WINDOW_S for crash in crashes)

    @property
    def seq_gaps(self) -> list[str]:
        """Gaps in a source's seq, but for those a worker's death left (announced, one number)."""
        with self._cond:
            gaps = list(self._gaps)
        return [f"{s}: seq {a} then {b}" for s, a, b, t in gaps if not self._left_by_a_crash(s, a, b, t)]

    @property
    def crash_gaps(self) -> int:
        with self._cond:
            gaps = list(self._gaps)
        return sum(1 for gap in gaps if self._left_by_a_crash(*gap))

    def _supervision(self, value: dict[str, Any], seen_at: float) -> None:
        event = str(value["event"])
        key = (int(value["evse"] or 0), str(value["actor"]))
        with self._cond:
            self.supervision[event] += 1
            if key[1] == "worker":
                self.worker_supervision[event] += 1
                if event in ("crashed", "hung"):  # the new worker's actors count their generations anew
                    self.worker_crashes[key[0]].append(seen_at)
                    for other in [k for k in self.generations if k[0] == key[0] and k[1] != "worker"]:
                        del self.generations[other]
            if event in ("started", "restarted"):
                self.generations[key].append((int(value["generation"]), seen_at))
            elif event == "hung":
                self.hung[key].append(seen_at)
            elif event in ("gave_up", "escalated"):
                self.given_up.append(value)
            self._cond.notify_all()

    def _energy(self, evse: int, value: dict[str, Any]) -> None:
        self.powermeter_count += 1
        energy_wh = float(value["energy_Wh_import"]["total"])
        last_wh = self._energy_wh.get(evse)
        if last_wh is not None and energy_wh < last_wh:
            self.energy_violations.append(
                f"evse {evse}: powermeter energy fell from {last_wh} to {energy_wh} Wh"
            )
        self._energy_wh[evse] = energy_wh
