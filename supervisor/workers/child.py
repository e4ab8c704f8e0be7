"""A worker process: its share of the connectors, as a thread-isolated station behind its own API.

    main(spec)   # the forkserver runs it; returns never (the process exits)

It serves on `ipc://` sockets (the root relays to them), tells the root it is ready, and
beats. Whatever ends it (SIGTERM from the root, the root's heartbeats gone), its connectors'
power goes off first.
"""

from __future__ import annotations

import itertools
import logging
import os
import pathlib
import pickle
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil
import zmq

from supervisor.api.server import ApiServer
from supervisor.config.settings import StationSettings
from supervisor.station import Station, memory
from supervisor.workers import control
from supervisor.workers.logs import log_to_root
from supervisor.workers.plan import WorkerPlan

log = logging.getLogger("evse_supervisor.worker")

NO_HEARTBEAT_S = 3600.0  # the worker's own API publishes no station/heartbeat: the root's does
EXIT_ROOT_LOST = 3
EXIT_TOLD_TO_FAIL = 4
EXIT_CANNOT_SERVE = 5
_GROW_CHUNK = 1 << 20


@dataclass(frozen=True)
class WorkerSpec:
    plan: WorkerPlan
    generation: int
    station: StationSettings
    control_endpoint: str
    logs_endpoint: str
    root: tuple[int, float]  # the root's pid and start time (psutil's create_time)
    socket_dir: str  # the root's: a worker that finds its root dead removes it
    grow_mb_per_s: float = 0.0  # tests only: the worker's memory grows this fast (the RSS limit)
    fail_file: str | None = None  # tests only: a worker whose id this file holds exits at its start


def main(spec: WorkerSpec) -> None:
    phases = {"main": time.monotonic()}
    _configure_logging(spec)
    if _told_to_fail(spec):
        log.error("told to fail at its start (%s)", spec.fail_file)
        _exit(EXIT_TOLD_TO_FAIL)
    try:
        _serve(spec, phases)
    except Exception as exc:
        log.error("could not serve: %s: %s", type(exc).__name__, exc, exc_info=True)
        _exit(EXIT_CANNOT_SERVE)


def _serve(spec: WorkerSpec, phases: dict[str, float]) -> None:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C to the root's terminal is the root's to handle
    settings = spec.plan.settings(spec.station)
    phases["logging"] = time.monotonic()
    station = Station.build(settings)
    phases["built"] = time.monotonic()
    server = ApiServer(settings.api, station, heartbeat_interval_s=NO_HEARTBEAT_S)
    server.start()
    phases["bound"] = time.monotonic()
    if not server.wait_subscribed(spec.station.workers.start_timeout_s):  # what it publishes reaches the root
        log.warning("the root did not subscribe to its publications")
    phases["subscribed"] = time.monotonic()
    station.start()
    phases["started"] = time.monotonic()
    beat = Beat(spec, station, phases)
    beat.start()
    memory.freeze_startup_objects()
    if spec.grow_mb_per_s > 0:
        threading.Thread(target=_grow, args=(spec.grow_mb_per_s,), daemon=True).start()
    stopping.wait()
    log.info("stopping")
    station.power_off()
    server.stop(timeout_s=0.5)
    station.stop(timeout_s=1.5, stop_plant=False)  # the root stops the plant it started
    _exit(0)


def _exit(code: int) -> None:
    """Exit now, once the last log lines left for the root (threads left running are not waited for)."""
    logging.shutdown()
    os._exit(code)


class Beat:
    """The worker's heartbeats to its root, and the root's answers; no answer for long: power off, exit."""

    def __init__(self, spec: WorkerSpec, station: Station, phases: dict[str, float]) -> None:
        self._spec = spec
        self._station = station
        self._phases = phases
        self._thread = threading.Thread(target=self._run, name="worker-beat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        context = zmq.Context()
        socket = context.socket(zmq.DEALER)
        socket.linger = 0
        socket.identity = control.identity(self._spec.plan.id, self._spec.generation)
        socket.connect(self._spec.control_endpoint)
        ready = {**self._beat(full=True), "t": "ready", "pid": os.getpid()}  # what it serves, at once
        ready["phases"] = {**self._phases, "ready": time.monotonic()}
        socket.send(control.pack(ready))
        heard_s = time.monotonic()
        for beats in itertools.count():
            socket.send(control.pack(self._beat(full=beats % control.FULL_EVERY == 0)))
            deadline_s = time.monotonic() + control.HEARTBEAT_S
            while (left_s := deadline_s - time.monotonic()) > 0:
                if socket.poll(int(left_s * 1000) + 1):
                    self._take(control.unpack(socket.recv()))
                    heard_s = time.monotonic()
            if time.monotonic() - heard_s > control.ROOT_LOSS_S:
                self._root_lost()

    def _beat(self, *, full: bool) -> dict[str, Any]:
        """A heartbeat; every `FULL_EVERY`th one with the connectors' summaries and figures."""
        station = self._station
        beat: dict[str, Any] = {"t": "hb", "stalled": station.stalled_connectors()}
        if full:
            beat["summary"] = station.supervision_summary()
            beat["figures"] = station.connector_figures()
        return beat

    def _take(self, message: dict[str, Any] | None) -> None:
        """The root's answer to a heartbeat, or settings a reload changed."""
        if message is None or message.get("t") != "settings":
            return
        settings: StationSettings = pickle.loads(message["settings"])  # from the root, over its own ipc
        station = self._station
        station.set_supervision(settings.supervision)
        for connector in settings.connectors:
            station.update_connector(connector)
        logging.getLogger().setLevel(settings.log_level)
        log.info("settings of a reload applied")

    def _root_lost(self) -> None:
        """The root is gone (and its log with it): a line on stderr, power off, exit."""
        print(
            f"evse-supervisor worker {self._spec.plan.id} (pid {os.getpid()}): no heartbeat from the root "
            f"for {control.ROOT_LOSS_S:g} s: power off, exit",
            file=sys.stderr,
            flush=True,
        )
        try:
            self._station.power_off()
            if _gone(*self._spec.root):  # not merely silent: its sockets are of no use any more
                shutil.rmtree(self._spec.socket_dir, ignore_errors=True)
        finally:
            os._exit(EXIT_ROOT_LOST)


def _gone(pid: int, created: float) -> bool:
    """The process `pid` started at `created` has ended (a pid reused since is another process)."""
    try:
        process = psutil.Process(pid)
        return process.create_time() != created or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def _configure_logging(spec: WorkerSpec) -> None:
    log_to_root(spec.logs_endpoint, spec.plan.id, spec.station.log_level)


def _told_to_fail(spec: WorkerSpec) -> bool:
    if spec.fail_file is None:
        return False
    try:
        named = pathlib.Path(spec.fail_file).read_text().split()
    except OSError:
        return False
    return str(spec.plan.id) in named


def _grow(mb_per_s: float) -> None:
    """Tests only: hold more memory every second, touched, so the RSS grows."""
    held = []
    while True:
        held.append(bytearray(os.urandom(16)) * (int(mb_per_s * _GROW_CHUNK) // 16))
        time.sleep(1.0)
