"""Kills, hangs and worker kills at given rates, and per connector a probe that times each recovery."""

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
KINDS = ("kill", "hang", "worker")
RECOVERY_DEADLINE_S = 20.0


@dataclass
class Blow:
    """One kill or hang sent to a connector, and what the probe measured after it."""

    kind: str  # "kill", "hang" or "worker" (chaos_kill_worker: SIGKILL of the connector's worker)
    evse: int
    role: str  # "worker" for a worker kill
    sent_at: float
    generation: int  # the session's (the worker's) generation before: a restart makes a later one
    restarted_s: float | None = None  # until the session's (the worker's) next generation was seen
    detected_s: float | None = None  # hangs: until `hung` was seen; worker kills: `crashed`
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
        if blow.kind == "worker":
            self._measure_worker(blow, deadline)
            return
        if blow.kind == "hang":
            seen = self.watcher.wait_hung(blow.evse, blow.role, blow.sent_at, deadline)
            blow.detected_s = None if seen is None else seen - blow.sent_at
        seen = self.watcher.wait_generation(blow.evse, "session", blow.generation, deadline)
        blow.restarted_s = None if seen is None else seen - blow.sent_at
        self._until_ok(blow, deadline)

    def _measure_worker(self, blow: Blow, deadline: float) -> None:
        """At once: the root holds the request while the worker is down and sends it to the new one."""
        self._until_ok(blow, deadline)
        failed = self.watcher.wait_worker_failure(blow.evse, blow.sent_at, deadline)
        blow.detected_s = None if failed is None else failed - blow.sent_at
        seen = self.watcher.wait_generation(blow.evse, "worker", blow.generation, deadline)
        blow.restarted_s = None if seen is None else seen - blow.sent_at

    def _until_ok(self, blow: Blow, deadline: float) -> None:
        while time.monotonic() < deadline:
            outcome, _ = self.client.attempt("get_signed_meter_value", self.evse)
            if outcome == "ok":
                blow.recovered_s = time.monotonic() - blow.sent_at
                return


class Killer(threading.Thread):
    """Sends `chaos_kill` at `kill_rate` per second and `chaos_hang` at `hang_rate`, to random actors,
    and `chaos_kill_worker` at `worker_rate` to random connectors' workers."""

    def __init__(
        self,
        client: CountingClient,
        probes: list[Probe],
        watcher: Watcher,
        rates: tuple[float, float, float],
        hang_s: float,
        seed: int,
    ) -> None:
        super().__init__(name="chaos-killer", daemon=True)
        self.client = client
        self.probes = probes
        self.watcher = watcher
        self.rates = dict(zip(KINDS, rates, strict=True))
        self.hang_s = hang_s
        self.rng = random.Random(seed)
        self.halt = threading.Event()
        self.sent: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()  # kind/code of blows not accepted by the station
        self.late_s = 0.0  # the most the schedule fell behind

    def run(self) -> None:
        now = time.monotonic()
        due = {kind: now + self._interval(rate) for kind, rate in self.rates.items()}
        while True:
            kind = min(due, key=due.__getitem__)
            if self.halt.wait(max(0.0, due[kind] - time.monotonic())):
                return
            self.late_s = max(self.late_s, time.monotonic() - due[kind])
            self._blow(kind)
            due[kind] = max(due[kind] + self._interval(self.rates[kind]), time.monotonic() - 1.0)

    @staticmethod
    def _interval(rate: float) -> float:
        return 1.0 / rate if rate > 0 else float("inf")

    def _blow(self, kind: str) -> None:
        idle = [probe for probe in self.probes if not probe.busy()]
        probe = self.rng.choice(idle or self.probes)
        role = "worker" if kind == "worker" else self.rng.choice(ROLES)
        generation = self.watcher.generation(probe.evse, "worker" if kind == "worker" else "session")
        sent_at = time.monotonic()
        if kind == "kill":
            outcome, _ = self.client.attempt("chaos_kill", probe.evse, actor=role)
        elif kind == "hang":
            outcome, _ = self.client.attempt("chaos_hang", probe.evse, actor=role, seconds=self.hang_s)
        else:
            outcome, _ = self.client.attempt("chaos_kill_worker", probe.evse)
        if outcome != "ok":
            self.refused[f"{kind} {outcome}"] += 1
            return
        self.sent[kind] += 1
        probe.submit(Blow(kind, probe.evse, role, sent_at, generation))
