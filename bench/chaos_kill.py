"""Kills and hangs at a given rate, and per connector a probe that times each recovery."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from chaos_load import CountingClient
from chaos_watch import Watcher

ROLES = ("hardware", "meter", "reservation", "session")
RECOVERY_DEADLINE_S = 20.0


@dataclass
class Blow:
    """One kill or hang sent to a connector, and what the probe measured after it."""

    kind: str  # "kill" or "hang"
    evse: int
    role: str
    sent_at: float
    session_generation: int  # the session's generation before: every role's restart restarts it too
    restarted_s: float | None = None  # until the session's next generation was seen
    detected_s: float | None = None  # hangs: until the `hung` event was seen
    recovered_s: float | None = None  # until the connector's next ok reply after the restart


class Probe(threading.Thread):
    """Times each blow on its connector: the restart seen, then `get_signed_meter_value` until ok."""

    def __init__(self, client: CountingClient, evse: int, watcher: Watcher) -> None:
        super().__init__(name=f"chaos-probe-{evse}", daemon=True)
        self.client = client
        self.evse = evse
        self.watcher = watcher
        self.blows: queue.SimpleQueue[Blow | None] = queue.SimpleQueue()
        self.done: list[Blow] = []
        self.pending = 0
        self._lock = threading.Lock()

    def submit(self, blow: Blow) -> None:
        with self._lock:
            self.pending += 1
        self.blows.put(blow)

    def busy(self) -> bool:
        with self._lock:
            return self.pending > 0

    def finish(self) -> None:
        self.blows.put(None)
        self.join(RECOVERY_DEADLINE_S + 10)

    def run(self) -> None:
        while (blow := self.blows.get()) is not None:
            self._measure(blow)
            with self._lock:
                self.pending -= 1
                self.done.append(blow)

    def _measure(self, blow: Blow) -> None:
        deadline = blow.sent_at + RECOVERY_DEADLINE_S
        if blow.kind == "hang":
            seen = self.watcher.wait_hung(blow.evse, blow.role, blow.sent_at, deadline)
            blow.detected_s = None if seen is None else seen - blow.sent_at
        seen = self.watcher.wait_generation(blow.evse, "session", blow.session_generation, deadline)
        blow.restarted_s = None if seen is None else seen - blow.sent_at
        while time.monotonic() < deadline:
            outcome, _ = self.client.attempt("get_signed_meter_value", self.evse)
            if outcome == "ok":
                blow.recovered_s = time.monotonic() - blow.sent_at
                return


class Killer(threading.Thread):
    """Sends `chaos_kill` at `kill_rate` per second and `chaos_hang` at `hang_rate`, to random actors."""

    def __init__(
        self,
        client: CountingClient,
        probes: list[Probe],
        watcher: Watcher,
        rates: tuple[float, float],
        hang_s: float,
        seed: int,
    ) -> None:
        super().__init__(name="chaos-killer", daemon=True)
        self.client = client
        self.probes = probes
        self.watcher = watcher
        self.kill_rate, self.hang_rate = rates
        self.hang_s = hang_s
        self.rng = random.Random(seed)
        self.halt = threading.Event()
        self.sent: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()  # kind/code of blows not accepted by the station
        self.late_s = 0.0  # the most the schedule fell behind

    def run(self) -> None:
        now = time.monotonic()
        next_kill = now + self._interval(self.kill_rate)
        next_hang = now + self._interval(self.hang_rate)
        while True:
            due = min(next_kill, next_hang)
            if self.halt.wait(max(0.0, due - time.monotonic())):
                return
            self.late_s = max(self.late_s, time.monotonic() - due)
            if next_kill <= next_hang:
                self._blow("kill")
                next_kill = max(next_kill + self._interval(self.kill_rate), time.monotonic() - 1.0)
            else:
                self._blow("hang")
                next_hang = max(next_hang + self._interval(self.hang_rate), time.monotonic() - 1.0)

    @staticmethod
    def _interval(rate: float) -> float:
        return 1.0 / rate if rate > 0 else float("inf")

    def _blow(self, kind: str) -> None:
        idle = [probe for probe in self.probes if not probe.busy()]
        probe = self.rng.choice(idle or self.probes)
        role = self.rng.choice(ROLES)
        generation = self.watcher.generation(probe.evse, "session")
        sent_at = time.monotonic()
        if kind == "kill":
            outcome, _ = self.client.attempt("chaos_kill", probe.evse, actor=role)
        else:
            outcome, _ = self.client.attempt("chaos_hang", probe.evse, actor=role, seconds=self.hang_s)
        if outcome != "ok":
            self.refused[f"{kind} {outcome}"] += 1
            return
        self.sent[kind] += 1
        probe.submit(Blow(kind, probe.evse, role, sent_at, generation))
