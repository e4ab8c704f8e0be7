"""`evse-supervisor run`: everything started in dependency order, stopped in reverse.

Before anything starts: the start conditions (`supervisor.ops.preflight`), each failure
one line and exit 1. Then the station, the API, the metrics endpoint; READY=1 once every
connector answers. Signals: SIGINT and SIGTERM stop (power off first), SIGHUP reloads
the configuration file, SIGUSR2 reopens the log file.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import zmq

from supervisor.api.server import ApiServer
from supervisor.config.settings import StationSettings
from supervisor.journal import EXIT_CORRUPT, JournalError
from supervisor.ops import (
    EventLog,
    Health,
    LogSetup,
    Notifier,
    Reloader,
    RequestRecorder,
    StartRefused,
    StationHealth,
    StationMetrics,
    Watchdog,
    preflight,
    watchdog_interval_s,
)
from supervisor.plant.launch import PlantError
from supervisor.station import Station, limits, memory
from supervisor.station.endpoints import write_endpoints
from supervisor.workers import ProcessStation

log = logging.getLogger("evse_supervisor")

READY_TIMEOUT_S = 10.0  # thread isolation; process isolation waits `workers.start_timeout_s`
THREAD_STOP_TIMEOUT_S = 2.5
PROCESS_STOP_TIMEOUT_S = 3.0
_ACTIONS = {signal.SIGINT: "stop", signal.SIGTERM: "stop", signal.SIGHUP: "reload", signal.SIGUSR2: "reopen"}


class Signals:
    """What the signals asked for, in order; the handlers only note it, the main thread acts."""

    def __init__(self) -> None:
        self._asked: deque[str] = deque()
        self._wake = threading.Event()
        for signum in _ACTIONS:
            signal.signal(signum, self._handle)

    def stop_asked(self) -> bool:
        """A SIGINT or SIGTERM came and was not acted on yet (a long start checks it)."""
        return "stop" in self._asked

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._asked.append(_ACTIONS[signal.Signals(signum)])
        self._wake.set()

    def serve(self, actions: dict[str, Callable[[], object]]) -> None:
        """Carry out what the signals ask until one asks to stop."""
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._asked:
                action = self._asked.popleft()
                log.info("signal: %s", action)
                if action == "stop":
                    return
                try:
                    actions[action]()
                except Exception:
                    log.exception("%s failed", action)


def run(settings: StationSettings, load: Callable[[], StationSettings], logs: LogSetup) -> int:
    """Serve until SIGINT or SIGTERM; then every connector's power off first, and exit 0."""
    try:
        lock = preflight(settings)
    except StartRefused as exc:
        print(f"evse-supervisor: {exc}", file=sys.stderr)
        return 1
    try:
        limits.ensure_open_files(limits.open_files_needed(len(settings.connectors)))
    except limits.LimitError as exc:
        lock.release()
        print(f"evse-supervisor: {exc}", file=sys.stderr)
        return 1
    try:
        signals = Signals()
        memory.return_large_blocks()
        station = _build(settings)
        if isinstance(station, int):
            return station
        return _serve(settings, load, logs, signals, station, _health(station))
    finally:
        lock.release()


def _build(settings: StationSettings) -> Station | ProcessStation | int:
    """The station, or the exit code of a start refused in one line (a corrupt journal: 78)."""
    try:
        if settings.isolation == "process":
            return ProcessStation.build(settings)
        return Station.build(settings)
    except JournalError as exc:
        print(f"evse-supervisor: {exc}", file=sys.stderr)
        return EXIT_CORRUPT
    except PlantError as exc:
        print(f"evse-supervisor: {exc}", file=sys.stderr)
        return 1


def _health(station: Station | ProcessStation) -> Health:
    """A process-isolated station's root is its own Health; a thread-isolated one's is its connectors'."""
    return station if isinstance(station, ProcessStation) else StationHealth(station)


def _serve(
    settings: StationSettings,
    load: Callable[[], StationSettings],
    logs: LogSetup,
    signals: Signals,
    station: Station | ProcessStation,
    health: Health,
) -> int:
    """The API bound, the station started, READY=1 and the watchdog; in `finally` power off first."""
    shape = _Shape.of(settings, station)
    evse_ids = {c.index: c.evse_id for c in settings.connectors}
    metrics = _observe(station, settings, evse_ids)
    reloader = Reloader(load, settings, station, logs)
    server = ApiServer(
        settings.api,
        station,
        observer=RequestRecorder(evse_ids, metrics),
        station_hooks={"reload": reloader.reload, "logs": logs.ring.read},
    )
    notifier = Notifier.from_environment()
    try:
        server.start()  # bound first: connector commands wait through each connector's recovery
    except zmq.ZMQError as exc:
        station.stop()
        print(f"evse-supervisor: cannot bind the API endpoints: {exc}", file=sys.stderr)
        return 1
    write_endpoints(settings.state_dir, server.command_endpoint, server.publish_endpoint)
    watchdog = Watchdog(health, server.command_endpoint, notifier, watchdog_interval_s())
    try:
        station.start(stopping=signals.stop_asked)  # a SIGTERM ends a long start between connectors
        if not signals.stop_asked():
            _announce(settings, shape, server, metrics, watchdog)
        signals.serve({"reload": reloader.reload, "reopen": logs.reopen})
    finally:
        watchdog.stop()
        station.power_off()
        if metrics is not None:
            metrics.stop()
        server.stop(timeout_s=1.0)
        station.stop(timeout_s=shape.stop_timeout_s)
        notifier.close()
        log.info("stopped")
    return 0


@dataclass(frozen=True)
class _Shape:
    """What the two isolations serve differently: the announce line and the timeouts."""

    serving: str  # "2 connectors", "8 connectors in 4 worker processes"
    not_ready: str  # what the list of those that did not answer in time is
    ready_timeout_s: float
    stop_timeout_s: float

    @classmethod
    def of(cls, settings: StationSettings, station: Station | ProcessStation) -> _Shape:
        connectors = f"{len(settings.connectors)} connectors"
        if isinstance(station, ProcessStation):
            workers = len(station.workers.workers)
            return cls(
                f"{connectors} in {workers} worker processes",
                "workers not serving",
                settings.workers.start_timeout_s,
                PROCESS_STOP_TIMEOUT_S,
            )
        return cls(connectors, "connectors did not answer", READY_TIMEOUT_S, THREAD_STOP_TIMEOUT_S)


def _observe(
    station: Station | ProcessStation, settings: StationSettings, evse_ids: dict[int, str]
) -> StationMetrics | None:
    """Log every publication worth a line, and feed the metrics when they are served."""
    metrics = StationMetrics(station, evse_ids) if settings.api.metrics_endpoint else None
    station.bus.observe(EventLog(evse_ids))
    if metrics is not None:
        station.bus.observe(metrics.publication)
    return metrics


def _announce(
    settings: StationSettings,
    shape: _Shape,
    server: ApiServer,
    metrics: StationMetrics | None,
    watchdog: Watchdog,
) -> None:
    log.info(
        "station %s serving %s: commands on %s, publications on %s",
        settings.name,
        shape.serving,
        server.command_endpoint,
        server.publish_endpoint,
    )
    if metrics is not None and settings.api.metrics_endpoint is not None:
        log.info("metrics on %s/metrics", metrics.serve(settings.api.metrics_endpoint))

    def ready(silent: list[str]) -> None:
        if silent:
            log.error("not ready, %s: %s", shape.not_ready, "; ".join(silent))
        frozen = memory.freeze_startup_objects()
        log.debug("%d objects of the start frozen out of the collector's way", frozen)

    watchdog.start(shape.ready_timeout_s, ready)  # signals are served while it waits
