"""The root's workers: started from a forkserver, watched with psutil and heartbeats, restarted.

    pool = WorkerPool(settings, socket_dir, on_event, on_give_up)
    pool.start()             # the forkserver, every worker, the watch thread
    pool.watch(listener)     # told (worker id, serving) whenever a worker starts or stops serving
    pool.revive(worker_id)   # a given-up worker starts again (`disable` + `enable` of a connector)
    pool.stop()              # SIGTERM to every worker (their power off first), SIGKILL what remains

One thread watches: it takes the heartbeats in, answers them, and looks at every worker
each round: dead (an exit, a signal, a zombie), silent past `ping_timeout_s` (SIGKILL),
above `max_worker_rss_mb` (SIGTERM, SIGKILL 2 s later), not serving within its start
timeout (SIGKILL). A failed worker is reaped first, then restarted with the backoff and
intensity of `station.supervision`; past the intensity it is given up (`on_give_up`, after
the reaping, writes its connectors' records).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import pathlib
import pickle
import random
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.context import ForkServerContext
from typing import Any

import psutil
import zmq

from supervisor.config.settings import StationSettings
from supervisor.workers import control
from supervisor.workers.child import WorkerSpec, main
from supervisor.workers.plan import WorkerPlan, control_endpoint, logs_endpoint, plan_workers
from supervisor.workers.process import REAP_TIMEOUT_S, Worker, ended, handle, signal_worker

log = logging.getLogger("evse_supervisor.workers")

PRELOAD = ["supervisor.workers.preload"]  # the station's modules, imported once by the forkserver
TERM_GRACE_S = 2.0  # SIGTERM (over the RSS limit), then SIGKILL after this long

ROUND_S = 0.05
MEASURE_S = 0.5  # RSS, CPU and the zombie check, per worker
GROW_ENV = "EVSE_SUPERVISOR_TEST_WORKER_GROW_MB"  # tests only: workers' memory grows (MB per second)
FAIL_ENV = "EVSE_SUPERVISOR_TEST_WORKER_FAIL_FILE"  # tests only: workers whose id it holds exit at start

Event = Callable[[WorkerPlan, str, str, int], None]  # (plan, event, reason, restarts)
Listener = Callable[[int, bool], None]  # (worker id, serving)


class WorkerPool:
    def __init__(
        self,
        settings: StationSettings,
        socket_dir: pathlib.Path,
        on_event: Event,
        on_give_up: Callable[[WorkerPlan], None],
    ) -> None:
        self._settings = settings
        self._socket_dir = socket_dir
        self._root = (os.getpid(), psutil.Process().create_time())
        self._control_endpoint = control_endpoint(socket_dir)
        self._logs_endpoint = logs_endpoint(socket_dir)
        self._on_event = on_event
        self._on_give_up = on_give_up
        rng = random.Random()
        self.workers = [Worker(plan, rng, settings) for plan in plan_workers(settings, socket_dir)]
        self._by_index = {i: w for w in self.workers for i in w.plan.indexes}
        self._listeners: list[Listener] = []
        self._outbox: list[tuple[bytes, dict[str, Any]]] = []  # to workers, sent by the watch thread
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._grow_mb_per_s = float(os.environ.get(GROW_ENV, "0") or 0)
        self._fail_file = os.environ.get(FAIL_ENV) or None
        self._context: ForkServerContext = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._zmq = zmq.Context()
        self._control = self._zmq.socket(zmq.ROUTER)
        self._control.linger = 0
        self._control.bind(self._control_endpoint)
        self._thread = threading.Thread(target=self._run, name="workers-watch", daemon=True)

    # --- what the station asks -----------------------------------------------------------

    def worker_id(self, index: int) -> int:
        return self._by_index[index].plan.id

    def endpoint(self, worker_id: int) -> str:
        return self.workers[worker_id - 1].plan.command_endpoint

    def state(self, worker_id: int) -> str:
        return self.workers[worker_id - 1].state

    def indexes(self, worker_id: int) -> tuple[int, ...]:
        return self.workers[worker_id - 1].plan.indexes

    def watch(self, listener: Listener) -> None:
        """`listener(worker_id, serving)` on every change; at once for the workers serving now."""
        with self._lock:
            self._listeners.append(listener)
            for worker in self.workers:
                if worker.state == "running":
                    listener(worker.plan.id, True)

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [worker.describe() for worker in self.workers]

    def figures(self) -> list[dict[str, Any]]:
        """`describe` with each worker's threads (the metrics)."""
        with self._lock:
            return [{**worker.describe(), "threads": worker.threads} for worker in self.workers]

    def reconfigure(self, settings: StationSettings) -> None:
        """Settings a reload changed live: the workers serving now are told, later ones start with them."""
        with self._lock:
            self._settings = settings
            by_index = {c.index: c for c in settings.connectors}
            for worker in self.workers:
                connectors = tuple(by_index[c.index] for c in worker.plan.connectors)
                worker.plan = dataclasses.replace(worker.plan, connectors=connectors)
                if worker.state == "running":
                    message = {"t": "settings", "settings": pickle.dumps(worker.plan.settings(settings))}
                    self._outbox.append((control.identity(worker.plan.id, worker.generation), message))

    def watching(self) -> bool:
        """The watch thread runs (the health check)."""
        return self._thread.is_alive()

    def serving(self) -> bool:
        with self._lock:
            return all(w.state == "running" for w in self.workers)

    def start(self) -> None:
        with self._lock:
            for worker in self.workers:
                self._start_or_fail(worker)
        self._thread.start()

    def revive(self, worker_id: int) -> bool:
        """A given-up worker starts afresh (its failures forgotten); False when it was not given up."""
        with self._lock:
            worker = self.workers[worker_id - 1]
            if worker.state != "gave_up":
                return False
            worker.window.reset()
            worker.backoff.reset()
            log.info("worker %d revived by an operator", worker_id)
            self._start_or_fail(worker)
            return True

    def signal(self, index: int, signum: int) -> bool:
        """Chaos: signal the worker of connector `index` through its process handle (never a reused pid)."""
        with self._lock:
            worker = self._by_index[index]
            if worker.ps is None or worker.state not in ("starting", "running"):
                return False
            try:
                worker.ps.send_signal(signum)
            except psutil.Error:
                return False
            worker.marks = {"signalled": time.monotonic()}
            return True

    def stop(self, timeout_s: float = 3.0) -> None:
        """SIGTERM to every worker (each switches its power off first); SIGKILL what is left at the end."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        with self._lock:
            live = [w for w in self.workers if w.process is not None and w.process.exitcode is None]
            for worker in live:
                signal_worker(worker, signal.SIGTERM)
            deadline_s = time.monotonic() + timeout_s
            for worker in live:
                assert worker.process is not None
                worker.process.join(max(0.0, deadline_s - time.monotonic()))
                if worker.process.exitcode is None:
                    log.warning("worker %d did not stop within %.1f s: killed", worker.plan.id, timeout_s)
                    signal_worker(worker, signal.SIGKILL)
                    worker.process.join(REAP_TIMEOUT_S)
                worker.state = "stopped"
        self._control.close(linger=0)
        self._zmq.term()

    # --- the watch thread ----------------------------------------------------------------

    def _spawn(self, worker: Worker) -> None:
        worker.generation += 1
        spec = WorkerSpec(
            worker.plan,
            worker.generation,
            self._settings,
            self._control_endpoint,
            self._logs_endpoint,
            self._root,
            str(self._socket_dir),
            self._grow_mb_per_s,
            self._fail_file,
        )
        process = self._context.Process(target=main, args=(spec,), name=f"evse-worker-{worker.plan.id}")
        process.daemon = False
        worker.marks["spawn"] = time.monotonic()
        process.start()
        worker.marks["spawned"] = time.monotonic()
        worker.process = process
        worker.ps = handle(process.pid)
        worker.state = "starting"
        worker.started_s = worker.heard_s = time.monotonic()
        worker.term_sent_s = None
        worker.failure = None
        log.info(
            "worker %d started (pid %s) for connectors %s",
            worker.plan.id,
            process.pid,
            ", ".join(map(str, worker.plan.indexes)),
        )

    def _run(self) -> None:
        next_look_s = time.monotonic()
        while not self._stopping.is_set():
            try:
                next_look_s = self._round(next_look_s)
            except Exception:  # the watch must go on whatever one round met
                log.exception("the workers' watch failed a round")

    def _round(self, next_look_s: float) -> float:
        """One round: heartbeats in, replies out, every worker looked at when it is time; the next look."""
        poller = zmq.Poller()
        poller.register(self._control, zmq.POLLIN)
        wait_s = ROUND_S
        with self._lock:
            for worker in self.workers:
                if worker.process is not None and worker.state in ("starting", "running"):
                    poller.register(worker.process.sentinel, zmq.POLLIN)  # readable once it ended
                elif worker.state == "restarting":  # the poll ends when its restart is due
                    wait_s = min(wait_s, max(0.0, worker.restart_at_s - time.monotonic()))
        ready = poller.poll(int(wait_s * 1000) + 1)
        if any(socket is self._control for socket, _ in ready):
            self._take_messages()
        self._send_outbox()
        now_s = time.monotonic()
        ended = any(socket is not self._control for socket, _ in ready)
        due = any(w.state == "restarting" and w.restart_at_s <= now_s for w in self.workers)
        if ended or due or now_s >= next_look_s:
            next_look_s = now_s + ROUND_S
            with self._lock:
                for worker in self.workers:
                    self._look(worker, now_s)
        return next_look_s

    def _send_outbox(self) -> None:
        with self._lock:
            outbox, self._outbox = self._outbox, []
        for who, message in outbox:
            self._control.send_multipart([who, control.pack(message)])

    def _take_messages(self) -> None:
        while self._control.poll(0):
            frames = self._control.recv_multipart()
            if len(frames) != 2:
                continue
            who, message = control.parse_identity(frames[0]), control.unpack(frames[1])
            if who is None or message is None:
                continue
            with self._lock:
                worker = self.workers[who[0] - 1] if 1 <= who[0] <= len(self.workers) else None
                if (
                    worker is None
                    or who[1] != worker.generation
                    or worker.state not in ("starting", "running")
                ):
                    continue
                worker.heard_s = time.monotonic()
                _take_figures(worker, message)
                if message.get("t") == "ready":
                    _log_start(worker, message.get("phases"))
                    self._serving(worker)
                elif message.get("t") == "hb":
                    self._control.send_multipart([frames[0], control.pack({"t": "ack"})])

    def _serving(self, worker: Worker) -> None:
        first = worker.generation == 1 and worker.restarts == 0
        worker.state = "running"
        if not first:
            self._on_event(worker.plan, "restarted", worker.last_exit or "", worker.restarts)
        self._tell(worker.plan.id, True)

    def _look(self, worker: Worker, now_s: float) -> None:
        if worker.state == "restarting":
            if now_s >= worker.restart_at_s:
                self._restart(worker)
            return
        if worker.state not in ("starting", "running") or worker.process is None:
            return
        measure = now_s - worker.measured_s >= MEASURE_S
        if measure:
            worker.measured_s = now_s
            self._measure(worker)
        how = ended(worker, zombie_check=measure)
        if how is not None:
            worker.marks["detected"] = now_s
            self._failed(worker, *(worker.failure or ("crashed", how)), exit_text=how)
        elif worker.failure is not None:  # signalled already: waiting for it to go, not signalled each round
            if worker.term_sent_s is not None:
                self._check_memory(worker, now_s)  # SIGTERMed over its memory: SIGKILL after the grace
        elif worker.state == "starting" and now_s - worker.started_s > self._settings.workers.start_timeout_s:
            reason = f"not serving {self._settings.workers.start_timeout_s:g} s after its start"
            self._kill(worker, "crashed", reason)
        elif worker.state == "running" and now_s - worker.heard_s > self._settings.supervision.ping_timeout_s:
            reason = f"no heartbeat for {self._settings.supervision.ping_timeout_s:g} s"
            self._kill(worker, "hung", reason)
        else:
            self._check_memory(worker, now_s)

    def _measure(self, worker: Worker) -> None:
        if worker.ps is None:
            return
        try:
            with worker.ps.oneshot():
                worker.rss_bytes = worker.ps.memory_info().rss
                worker.cpu_percent = worker.ps.cpu_percent()
                worker.threads = worker.ps.num_threads()
        except psutil.Error:
            pass

    def _check_memory(self, worker: Worker, now_s: float) -> None:
        limit_bytes = self._settings.workers.max_rss_mb * 1024 * 1024
        if worker.term_sent_s is not None:
            if now_s - worker.term_sent_s > TERM_GRACE_S:
                signal_worker(worker, signal.SIGKILL)
            return
        if worker.rss_bytes > limit_bytes:
            mb = worker.rss_bytes / 1024 / 1024
            worker.failure = (
                "crashed",
                f"RSS {mb:.0f} MB above max_worker_rss_mb {self._settings.workers.max_rss_mb}",
            )
            log.warning("worker %d: %s: SIGTERM", worker.plan.id, worker.failure[1])
            worker.term_sent_s = now_s
            signal_worker(worker, signal.SIGTERM)

    def _kill(self, worker: Worker, event: str, reason: str) -> None:
        log.warning("worker %d (pid %s): %s: SIGKILL", worker.plan.id, worker.pid, reason)
        worker.failure = (event, reason)
        signal_worker(worker, signal.SIGKILL)

    def _failed(self, worker: Worker, event: str, reason: str, exit_text: str) -> None:
        """The process is gone: reaped, its connectors told, then restarted later or given up."""
        if worker.process is not None:
            worker.process.join(REAP_TIMEOUT_S)
        worker.marks["reaped"] = time.monotonic()
        worker.last_exit = exit_text
        self._tell(worker.plan.id, False)
        now_s = time.monotonic()
        full = f"{reason} ({exit_text})" if reason != exit_text else reason
        log.error(
            "worker %d (connectors %s): %s", worker.plan.id, ", ".join(map(str, worker.plan.indexes)), full
        )
        self._on_event(worker.plan, event, full, worker.restarts)
        worker.process = worker.ps = None
        if worker.window.record(now_s):
            worker.state = "gave_up"
            log.error(
                "worker %d: more than %d failures within %g s: given up",
                worker.plan.id,
                self._settings.supervision.intensity,
                self._settings.supervision.period_s,
            )
            self._on_give_up(worker.plan)
            self._on_event(worker.plan, "gave_up", full, worker.restarts)
            return
        worker.state = "restarting"
        worker.restart_at_s = now_s + worker.backoff.next_delay_s(now_s)
        if worker.restart_at_s <= now_s:  # the first restart of a streak is immediate
            self._restart(worker)

    def _restart(self, worker: Worker) -> None:
        worker.restarts += 1
        self._start_or_fail(worker)

    def _start_or_fail(self, worker: Worker) -> None:
        """Start the worker; a process that cannot even be started counts as a failure of it."""
        try:
            self._spawn(worker)
        except Exception as exc:
            log.exception("worker %d could not be started", worker.plan.id)
            self._failed(worker, "crashed", f"not started: {exc}", "not started")

    def _tell(self, worker_id: int, serving: bool) -> None:
        for listener in self._listeners:
            try:
                listener(worker_id, serving)
            except Exception:
                log.exception("a worker listener failed")


def _log_start(worker: Worker, phases: Any) -> None:
    """How long each step of the worker's start took, from its failure (or its kill) on."""
    marks = dict(worker.marks)
    if isinstance(phases, dict):
        marks.update((k, v) for k, v in phases.items() if isinstance(v, float))
    marks["heard"] = time.monotonic()
    worker.marks = {}
    steps, last_s = [], None
    for name, at_s in sorted(marks.items(), key=lambda item: item[1]):
        steps.append(f"{name} +{(at_s - last_s) * 1000:.1f}" if last_s is not None else name)
        last_s = at_s
    first_s = min(marks.values())
    log.info(
        "worker %d serving %.1f ms after %s",
        worker.plan.id,
        (marks["heard"] - first_s) * 1000,
        ", ".join(steps),
    )


def _take_figures(worker: Worker, message: dict[str, Any]) -> None:
    """What a heartbeat (or `ready`) says of the worker's connectors; what it leaves out stays."""
    summary, figures, stalled = message.get("summary"), message.get("figures"), message.get("stalled")
    worker.summary = summary if isinstance(summary, list) else worker.summary
    worker.figures = figures if isinstance(figures, list) else worker.figures
    worker.stalled = stalled if isinstance(stalled, list) else worker.stalled
