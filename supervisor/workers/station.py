"""The root of a process-isolated station: the API's backend for what the root answers itself.

Connector commands never reach it: the API relays them to the connector's worker
(`supervisor.api.relay`). The root answers the station commands (`status` gathers the
workers' own), owns the bus the workers' publications are renumbered on, and writes the
records of a given-up worker's connectors once it is reaped.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import psutil
import pykka

from actors.ports import ReplyKey
from actors.settings import ConnectorSettings
from drivers.clock import Clock, SystemClock
from supervisor.api.protocol import Forbidden
from supervisor.config.settings import StationSettings
from supervisor.journal import StationJournal, StoredReply
from supervisor.station.bus import Bus
from supervisor.station.connector import Connector
from supervisor.station.simulation import SimulatedHardware
from supervisor.tree import SupervisionEvent, SupervisionSettings, Unavailable
from supervisor.workers import views
from supervisor.workers.logs import LogRelay
from supervisor.workers.plan import WorkerPlan, logs_endpoint, socket_dir
from supervisor.workers.pool import WorkerPool
from supervisor.workers.publications import PublicationRelay

log = logging.getLogger("evse_supervisor.workers")

GATHER_TIMEOUT_S = 1.0
STOP_TIMEOUT_S = 3.0


class ProcessStation:
    """Implements supervisor.api.backend.Backend for `isolation: process`."""

    def __init__(self, settings: StationSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.journal = StationJournal.open(settings.state_dir, clock, [], [])
        self.journal_id = self.journal.journal_id
        self.epoch = uuid.uuid4().hex
        self.bus = Bus(self.epoch, clock)
        self.chaos_enabled = settings.chaos
        self.started_monotonic = time.monotonic()
        self._process = psutil.Process(os.getpid())
        self._by_index = {c.index: c for c in settings.connectors}
        self._by_evse_id = {c.evse_id: c.index for c in settings.connectors}
        self.hardware = SimulatedHardware.open(settings)  # the plant, started before any worker
        self._socket_dir = socket_dir(settings.state_dir)  # a killed predecessor's removed
        self._logs = LogRelay(logs_endpoint(self._socket_dir))
        self.workers = WorkerPool(settings, self._socket_dir, self._worker_event, self._give_up)
        self._publications = PublicationRelay(
            self.bus, [w.plan.publish_endpoint for w in self.workers.workers]
        )
        self._stopped = threading.Event()

    @classmethod
    def build(cls, settings: StationSettings, clock: Clock | None = None) -> ProcessStation:
        return cls(settings, clock or SystemClock())

    # --- life cycle ----------------------------------------------------------------------

    def start(self, *, stopping: Callable[[], bool] | None = None) -> None:
        """Start the relays and the workers; it returns at once, so `stopping` is not needed."""
        self._logs.start()
        self._publications.start()
        self.workers.start()

    def wait_serving(self, timeout_s: float) -> bool:
        deadline_s = time.monotonic() + timeout_s
        while time.monotonic() < deadline_s:
            if self.workers.serving():
                return True
            self._stopped.wait(0.02)
        return self.workers.serving()

    def power_off(self) -> None:
        """Every worker stopped (SIGTERM: each switches its connectors' power off first), none restarted."""
        self.workers.stop()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.workers.stop(timeout_s)
        self._publications.stop()
        self._logs.stop()
        self.hardware.close()
        self.journal.close()
        shutil.rmtree(self._socket_dir, ignore_errors=True)

    # --- workers -------------------------------------------------------------------------

    def _worker_event(self, plan: WorkerPlan, event: str, reason: str, restarts: int) -> None:
        for index in plan.indexes:
            if event in ("crashed", "hung"):  # what it had not sent yet is lost: a gap says so
                self.bus.skip(f"evse/{index}")
            value = {
                "evse": index,
                "actor": "worker",
                "event": event,
                "generation": self.workers.workers[plan.id - 1].generation,
                "reason": reason,
                "restarts": restarts,
                "worker": plan.id,
            }
            self.bus.publish("station", "station/supervision", value)

    def _give_up(self, plan: WorkerPlan) -> None:
        """The reaped worker's connectors Faulted, each as a given-up connector of a thread station."""
        for settings in plan.connectors:
            try:
                self._last_word(settings)
            except Exception:
                log.exception("evse %d: the records of its given-up worker were not written", settings.index)

    def _last_word(self, settings: ConnectorSettings) -> None:
        journal = StationJournal.open(
            self.settings.state_dir, self.clock, [settings.evse_id], [settings.index]
        )
        try:
            connector = Connector(
                settings,
                self.bus,
                self.clock,
                self.settings.supervision,
                self.hardware.simulation,
                self._on_supervision,
                journal.connector(settings.index),
            )
            try:
                connector.give_up()
            finally:
                connector.plant.close()
        finally:
            journal.close()

    def _on_supervision(self, index: int, event: SupervisionEvent) -> None:
        """The last word's own team reports nothing worth publishing."""

    def kill_worker(self, index: int) -> bool:
        self._chaos_check()
        return self.workers.signal(index, signal.SIGKILL)

    def stop_worker(self, index: int, seconds: float) -> bool:
        self._chaos_check()
        stopped = self.workers.signal(index, signal.SIGSTOP)
        if stopped:
            timer = threading.Timer(seconds, self.workers.signal, args=(index, signal.SIGCONT))
            timer.daemon = True
            timer.start()
        return stopped

    def _chaos_check(self) -> None:
        if not self.chaos_enabled:
            raise Forbidden("needs chaos: true in the configuration, or --chaos")

    # --- Backend: what the root answers ----------------------------------------------------

    def evse_count(self) -> int:
        return len(self.settings.connectors)

    def resolve_evse(self, evse: int | str) -> int | None:
        if isinstance(evse, int) and not isinstance(evse, bool):
            return evse if evse in self._by_index else None
        if isinstance(evse, str):
            return self._by_evse_id.get(evse)
        return None

    def is_sim(self, index: int) -> bool:
        return self._by_index[index].board_driver == "sim"

    def stored_replies(self) -> list[StoredReply]:
        return []  # each worker answers retries from its own connectors' journals

    def status(self) -> dict[str, Any]:
        with self._process.oneshot():
            rss_bytes = self._process.memory_info().rss
            cpu_percent = self._process.cpu_percent()
        status: dict[str, Any] = {
            "name": self.settings.name,
            "epoch": self.epoch,
            "journal_id": self.journal_id,
            "uptime_s": time.monotonic() - self.started_monotonic,
            "pid": os.getpid(),
            "rss_bytes": rss_bytes,
            "cpu_percent": cpu_percent,
            "evses": views.evses(self.workers.workers, GATHER_TIMEOUT_S),
            "workers": self.workers.describe(),
        }
        plant = self.hardware.describe()
        if plant is not None:
            status["plant"] = plant
        return status

    def list_evses(self) -> list[dict[str, Any]]:
        return [
            {
                "index": entry["index"],
                "evse_id": entry["evse_id"],
                "driver": self._by_index[entry["index"]].board_driver,
                "state": entry["state"],
            }
            for entry in views.evses(self.workers.workers, GATHER_TIMEOUT_S)
        ]

    def supervision_summary(self) -> list[dict[str, Any]]:
        return views.summaries(self.workers.workers)

    def connector_figures(self) -> list[dict[str, Any]]:
        """The metrics' connector figures (supervisor.ops.metrics)."""
        return views.figures(self.workers.workers)

    def worker_figures(self) -> list[dict[str, Any]]:
        return self.workers.figures()

    # --- health (supervisor.ops.health.Health) -------------------------------------------------

    def silent(self, timeout_s: float) -> list[str]:
        if self.wait_serving(timeout_s):
            return []
        return [f"worker {w.plan.id}: {w.state}" for w in self.workers.workers if w.state != "running"]

    def stalled(self) -> list[str]:
        found = [] if self.workers.watching() else ["the workers' watch thread stopped"]
        for worker in self.workers.workers:
            if worker.state == "running":
                found += [f"evse {index} supervisor loop stalled" for index in worker.stalled]
        return found

    def tally(self) -> tuple[Counter[str], int, int]:
        summary = self.supervision_summary()
        states = Counter(str(entry["state"]) for entry in summary)
        failures = sum(int(entry.get("failures", 0)) for entry in summary)
        restarts = sum(int(entry.get("restarts", 0)) for entry in summary)
        return states, failures, restarts

    # --- reload (supervisor.ops.reload.Target): the workers told through the pool -------------

    def set_supervision(self, limits: SupervisionSettings) -> None:
        self._reconfigure(dataclasses.replace(self.settings, supervision=limits))

    def update_connector(self, settings: ConnectorSettings) -> None:
        connectors = tuple(settings if c.index == settings.index else c for c in self.settings.connectors)
        self._reconfigure(dataclasses.replace(self.settings, connectors=connectors))

    def set_log_level(self, level: str) -> None:
        self._reconfigure(dataclasses.replace(self.settings, log_level=level))

    def _reconfigure(self, settings: StationSettings) -> None:
        self.settings = settings
        self.workers.reconfigure(settings)

    def set_station_max_current(self, max_current: float) -> bool:
        raise Unavailable(
            "the station limit needs isolation: thread (process isolation has no grid limit yet)"
        )

    # --- Backend: connector commands are relayed, never asked here ---------------------------

    def stall_supervisor(self, index: int, seconds: float) -> bool:
        raise _relayed()

    def restart_connector(self, index: int) -> bool:
        raise _relayed()

    def actor_ref(self, index: int, role: str) -> pykka.ActorRef[Any] | None:
        raise _relayed()

    def decides(self, index: int, message: object) -> bool:
        raise _relayed()

    def ask_session(self, index: int, message: object, timeout_s: float, key: ReplyKey | None = None) -> Any:
        raise _relayed()

    def sim(self, index: int, control: str, args: dict[str, Any]) -> bool:
        raise _relayed()

    def events_since(self, index: int, since: int) -> dict[str, Any]:
        raise _relayed()

    def events_in_memory(self, index: int, since: int) -> bool:
        raise _relayed()


def _relayed() -> RuntimeError:
    return RuntimeError("a connector command of a process-isolated station goes to its worker")
