"""One worker slot as the root's pool keeps it: its plan, its current process (a psutil
handle beside it, so a reused pid is never signalled), its state and history."""

from __future__ import annotations

import contextlib
import random
import signal
from multiprocessing.process import BaseProcess
from typing import Any

import psutil

from supervisor.config.settings import StationSettings
from supervisor.tree.backoff import Backoff, IntensityWindow
from supervisor.workers.plan import WorkerPlan

REAP_TIMEOUT_S = 2.0


class Worker:
    """One worker slot: its plan, its current process, its state and history."""

    def __init__(self, plan: WorkerPlan, rng: random.Random, settings: StationSettings) -> None:
        self.plan = plan
        self.generation = 0
        self.process: BaseProcess | None = None
        self.ps: psutil.Process | None = None
        self.state = "stopped"  # starting | running | restarting | gave_up | stopped
        self.restarts = 0
        self.last_exit: str | None = None
        self.started_s = 0.0
        self.heard_s = 0.0
        self.restart_at_s = 0.0
        self.term_sent_s: float | None = None
        self.failure: tuple[str, str] | None = None  # (event, reason) decided before the process is reaped
        self.summary: list[dict[str, Any]] = []
        self.figures: list[dict[str, Any]] = []
        self.stalled: list[int] = []  # its connectors whose supervisor loop stalled, by its last heartbeat
        self.marks: dict[str, float] = {}  # monotonic times of its last failure and restart (the log's)
        self.threads = 0
        self.cpu_percent = 0.0
        self.rss_bytes = 0
        self.measured_s = 0.0
        self.backoff = Backoff(settings.supervision, rng)
        self.window = IntensityWindow(settings.supervision.intensity, settings.supervision.period_s)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.plan.id,
            "pid": self.pid if self.state in ("starting", "running") else None,
            "evses": list(self.plan.indexes),
            "state": self.state,
            "restarts": self.restarts,
            "rss_bytes": self.rss_bytes,
            "cpu_percent": self.cpu_percent,
            "last_exit": self.last_exit,
        }


def handle(pid: int | None) -> psutil.Process | None:
    try:
        return None if pid is None else psutil.Process(pid)
    except psutil.Error:
        return None


def signal_worker(worker: Worker, signum: int) -> None:
    """Through the psutil handle: a pid reused by another process is never signalled."""
    if worker.ps is None:
        return
    with contextlib.suppress(psutil.Error):
        worker.ps.send_signal(signum)


def ended(worker: Worker, *, zombie_check: bool) -> str | None:
    """How the worker's process ended ("exit 1", "signal SIGKILL"), None while it runs."""
    assert worker.process is not None
    code = worker.process.exitcode
    if code is None:
        if not zombie_check:
            return None
        if worker.ps is not None:
            try:
                if worker.ps.status() != psutil.STATUS_ZOMBIE:
                    return None
            except psutil.Error:
                pass
        worker.process.join(REAP_TIMEOUT_S)
        code = worker.process.exitcode
        if code is None:
            return "gone"
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit {code}"
