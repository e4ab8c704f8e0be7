"""The station: its connectors, the publication bus, the timer; what the API layer calls.

The station supervises no connector itself: each connector's supervisor is the top of
its own tree, so a failure, a restart or a give-up stays on its connector; a connector
given up stays Faulted until an operator's `disable` + `enable` starts its supervisor again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import pykka

from actors.messages import Authorize
from actors.ports import ReplyKey
from actors.settings import ConnectorSettings
from drivers.clock import Clock, SystemClock
from supervisor.api.protocol import Forbidden
from supervisor.config.settings import StationSettings
from supervisor.energy import EnergyManager, EvseLink, JournalLimitStore
from supervisor.journal import StationJournal, StoredReply
from supervisor.ocpp import OcppBridge, StationConnectors
from supervisor.station.bus import Bus
from supervisor.station.connector import Connector
from supervisor.station.simulation import SimulatedHardware
from supervisor.station.timer import ConnectorTimer, StationTimer
from supervisor.tree import SupervisionEvent, SupervisionSettings

log = logging.getLogger(__name__)

_ENERGY_KEY = (0, "energy")  # the station timer's key of the energy allocation (connectors are 1..)
POWER_OFF_THREADS = 16  # as many board calls at once as the plant link has sockets
STOP_TIMEOUT_S = 3.0  # SIGTERM must end the process within 5 s, even with hung actors


def _never() -> bool:
    return False


class Station:
    """Implements supervisor.api.backend.Backend."""

    def __init__(self, settings: StationSettings, clock: Clock) -> None:
        """`settings.connectors` may be a share of the station's (a worker's), each with its own index."""
        self.settings = settings
        self.journal = StationJournal.open(
            settings.state_dir,
            clock,
            [c.evse_id for c in settings.connectors],
            [c.index for c in settings.connectors],
        )
        self.journal_id = self.journal.journal_id  # opened first: JournalError refuses the start
        self.epoch = uuid.uuid4().hex
        self.clock = clock
        self.bus = Bus(self.epoch, clock)
        self.chaos_enabled = settings.chaos
        self.started_monotonic = time.monotonic()
        self.workers = None  # thread isolation: no worker processes
        self._process = psutil.Process(os.getpid())
        self.energy = self._energy_manager(settings, clock)
        self.timer = StationTimer(clock, self._timer_fired)
        self.hardware = SimulatedHardware.open(settings)  # PlantError when the plant does not come up
        simulation = self.hardware.simulation
        self.connectors = [
            Connector(
                dataclasses.replace(connector, grid_limited=self.energy.limited),
                self.bus,
                clock,
                settings.supervision,
                simulation,
                self._publish_supervision,
                self.journal.connector(connector.index),
                self._publish_recovered,
                self.energy.ledger,
                ConnectorTimer(self.timer, connector.index),
            )
            for connector in settings.connectors
        ]
        self.energy.attach([self._energy_link(c) for c in self.connectors])
        self._by_evse_id = {c.settings.evse_id: c for c in self.connectors}
        self._by_index = {c.index: c for c in self.connectors}
        self.ocpp: OcppBridge | None = None
        if settings.ocpp is not None:  # a central system: the bridge beside the API
            self.ocpp = OcppBridge(settings.ocpp, StationConnectors(self), settings.state_dir)

    def _energy_manager(self, settings: StationSettings, clock: Clock) -> EnergyManager:
        def publish(value: dict[str, Any]) -> None:
            self.bus.publish("station", "station/energy", value)

        def on_event(event: SupervisionEvent) -> None:
            self._publish_supervision(0, event)

        store = JournalLimitStore(self.journal)
        return EnergyManager(
            settings.grid, settings.connectors, store, clock, publish, settings.supervision, on_event
        )

    def _energy_link(self, connector: Connector) -> EvseLink:
        def ask_session(message: object, timeout_s: float) -> Any:
            return connector.tree.ask_running("session", message, timeout_s)

        return EvseLink.of(connector.settings, connector.state, ask_session, self.settings.grid.phases)

    @classmethod
    def build(cls, settings: StationSettings, clock: Clock | None = None) -> Station:
        return cls(settings, clock or SystemClock())

    # --- life cycle ----------------------------------------------------------------------

    def start(self, *, ticker: bool = True, stopping: Callable[[], bool] = _never) -> None:
        """Start every connector's actors and, unless a test ticks them, the station's timer.

        `stopping` is asked between connectors: once it says so the rest are left unstarted
        (a SIGTERM during the start of a thousand connectors is acted on at once).
        """
        if ticker:
            self.timer.start()
        for started, connector in enumerate(self.connectors):
            if stopping():
                log.warning("start interrupted: %d of %d connectors started", started, len(self.connectors))
                return
            connector.start()
        self.energy.start()
        self._arm_energy()
        if self.ocpp is not None:
            self.ocpp.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S, *, stop_plant: bool = True) -> None:
        """Power off every connector first, then stop the ticker and every connector's actors.

        Connectors stop side by side, so one with hung actors costs its own shutdown
        timeouts, not everyone's; whatever is not stopped by `timeout_s` is left behind
        (daemon threads, power already off).
        """
        self.power_off()
        if self.ocpp is not None:
            self.ocpp.stop()
        self.timer.stop()
        self.energy.stop()
        stoppers = [
            threading.Thread(target=c.stop, name=f"stop-evse-{c.index}", daemon=True) for c in self.connectors
        ]
        for stopper in stoppers:
            stopper.start()
        deadline = time.monotonic() + timeout_s
        for stopper in stoppers:
            stopper.join(timeout=max(0.0, deadline - time.monotonic()))
            if stopper.is_alive():
                log.warning("%s did not finish in %.1f s: left behind", stopper.name, timeout_s)
        if not any(stopper.is_alive() for stopper in stoppers):
            self.journal.close()
        self.hardware.close(stop_plant=stop_plant)

    def power_off(self) -> None:
        """Switch every connector's power off through its board, whatever its actors are doing:
        side by side (a board call is a round trip; a thousand of them one by one took a second)."""
        if len(self.connectors) <= 1:
            for connector in self.connectors:
                connector.power_off()
            return
        with ThreadPoolExecutor(POWER_OFF_THREADS, thread_name_prefix="power-off") as pool:
            list(pool.map(Connector.power_off, self.connectors))

    def tick(self) -> None:
        self.energy.tick()
        for connector in self.connectors:
            connector.tick()

    def _timer_fired(self, key: tuple[int, str]) -> None:
        index, role = key
        if key == _ENERGY_KEY:  # the allocation's control cycle, every grid.update_interval_s
            self.energy.tick()
            self._arm_energy()
            return
        self._by_index[index].tick_role(role)

    def _arm_energy(self) -> None:
        self.timer.arm(_ENERGY_KEY, self.clock.monotonic() + self.settings.grid.update_interval_s)

    def _publish_supervision(self, index: int, event: SupervisionEvent) -> None:
        value = {
            "evse": index,
            "actor": event.role,
            "event": event.event,
            "generation": event.generation,
            "reason": event.reason,
            "restarts": event.restarts,
        }
        self.bus.publish("station", "station/supervision", value)

    # --- Backend -------------------------------------------------------------------------

    def evse_count(self) -> int:
        return len(self.connectors)

    def resolve_evse(self, evse: int | str) -> int | None:
        if isinstance(evse, int) and not isinstance(evse, bool):
            return evse if evse in self._by_index else None
        if isinstance(evse, str):
            connector = self._by_evse_id.get(evse)
            return connector.index if connector is not None else None
        return None

    def connector(self, index: int) -> Connector:
        return self._by_index[index]

    def is_sim(self, index: int) -> bool:
        return self.connector(index).settings.board_driver == "sim"

    def decides(self, index: int, message: object) -> bool:
        """True when the station decides `message` before the session actor does (an authorize
        the central system must accept); such a command goes through `ask_session`."""
        return isinstance(message, Authorize) and self.ocpp is not None

    def ask_session(self, index: int, message: object, timeout_s: float, key: ReplyKey | None = None) -> Any:
        if self.decides(index, message):
            assert isinstance(message, Authorize) and self.ocpp is not None
            return self.ocpp.authorize(index, message, timeout_s)  # the central system decides
        return self.connector(index).ask_session(message, timeout_s, key)

    def sim(self, index: int, control: str, args: dict[str, Any]) -> bool:
        return self.connector(index).sim(control, args)

    def stall_supervisor(self, index: int, seconds: float) -> bool:
        self.connector(index).tree.stall(seconds)
        return True

    def restart_connector(self, index: int) -> bool:
        """The one place a connector is restarted on purpose (`restart`): its actors (in a worker
        process too: the worker stays)."""
        return self.connector(index).restart()

    def kill_worker(self, index: int) -> bool:
        raise Forbidden(
            "chaos_kill_worker needs isolation: process; with isolation: thread there are no workers"
        )

    def stop_worker(self, index: int, seconds: float) -> bool:
        raise Forbidden(
            "chaos_stop_worker needs isolation: process; with isolation: thread there are no workers"
        )

    def actor_ref(self, index: int, role: str) -> pykka.ActorRef[Any] | None:
        return self.connector(index).actor_ref(role)

    def events_since(self, index: int, since: int) -> dict[str, Any]:
        return self.connector(index).events_since(since)

    def events_in_memory(self, index: int, since: int) -> bool:
        return self.connector(index).events_in_memory(since)

    def stored_replies(self) -> list[StoredReply]:
        return self.journal.stored_replies()

    def _publish_recovered(self, index: int, reason: str) -> None:
        log.info("evse %d recovered from the journal: %s", index, reason)
        value = {"evse": index, "actor": "station", "event": "recovered", "reason": reason}
        self.bus.publish("station", "station/supervision", value)

    def list_evses(self) -> list[dict[str, Any]]:
        return [
            {
                "index": c.index,
                "evse_id": c.settings.evse_id,
                "driver": c.settings.board_driver,
                "state": c.state_name().value,
            }
            for c in self.connectors
        ]

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    def status(self) -> dict[str, Any]:
        with self._process.oneshot():
            rss_bytes = self._process.memory_info().rss
            cpu_percent = self._process.cpu_percent()
        status = {
            "name": self.settings.name,
            "epoch": self.epoch,
            "journal_id": self.journal_id,
            "uptime_s": self.uptime_s(),
            "pid": os.getpid(),
            "rss_bytes": rss_bytes,
            "cpu_percent": cpu_percent,
            "evses": [c.describe() for c in self.connectors],
            "workers": [],  # thread isolation: no worker processes
            "energy": self.energy.status(),
        }
        if self.ocpp is not None:
            status["ocpp"] = self.ocpp.describe()
        plant = self.hardware.describe()
        if plant is not None:
            status["plant"] = plant
        return status

    # --- reload (supervisor.ops.reload.Target) ----------------------------------------------

    def set_supervision(self, limits: SupervisionSettings) -> None:
        for connector in self.connectors:
            connector.tree.set_limits(limits)

    def update_connector(self, settings: ConnectorSettings) -> None:
        self._by_index[settings.index].update_settings(settings)

    def set_log_level(self, level: str) -> None:
        """Nothing beyond this process logs (its own level is the log setup's)."""

    def stalled_connectors(self) -> list[int]:
        """The connectors whose supervisor loop does not take its turns (the health check)."""
        return [c.index for c in self.connectors if not c.tree.loop_alive()]

    def connector_figures(self) -> list[dict[str, Any]]:
        """What the metrics read of each connector (supervisor.ops.metrics.Figures)."""
        figures = []
        for c in self.connectors:
            journal = self.journal.connector(c.index)
            figures.append(
                {
                    "index": c.index,
                    "evse_id": c.settings.evse_id,
                    "state": c.state_name().value,
                    "journal_writes": journal.writes,
                    "journal_write_failures": journal.write_failures,
                }
            )
        return figures

    def worker_figures(self) -> list[dict[str, Any]]:
        return []  # thread isolation

    def set_station_max_current(self, max_current: float) -> bool:
        """Kept, then applied (decreases first) within the API's request timeout."""
        return self.energy.set_station_max_current(max_current, self.settings.api.request_timeout_s)

    def supervision_summary(self) -> list[dict[str, Any]]:
        summaries = []
        for c in self.connectors:
            restarts, failures = c.tree.counts()
            summaries.append(
                {"index": c.index, "state": c.state_name().value, "restarts": restarts, "failures": failures}
            )
        return summaries
