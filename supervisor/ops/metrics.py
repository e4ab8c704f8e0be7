"""The Prometheus endpoint (`api.metrics_endpoint`, loopback only, off by default): `/metrics`.

    metrics = StationMetrics(station, evse_ids)    # a Station, or a process-isolated station's root
    station.bus.observe(metrics.publication)       # sessions, restarts, publications, readings
    ApiServer(..., observer=RequestRecorder(..., metrics))   # requests by command and code
    metrics.serve("http://127.0.0.1:9464")         # the address actually bound
    metrics.stop()

Per connector (labels `evse`, `evse_id`): its state, current per phase, power, energy,
sessions started; restarts by role; API requests by command and code with a latency
histogram; publications by variable; the process's RSS, CPU, threads and descriptors, and in
process isolation each worker's (from the root's watch: the workers' heartbeats bring their
connectors' states and journal counts). Counters live here; the rest is read from the
station at each scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIServer

import psutil
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class Figures(Protocol):
    """What a scrape reads from the station."""

    def connector_figures(self) -> list[dict[str, Any]]:
        """Per connector: index, evse_id, state, journal_writes, journal_write_failures."""
        ...

    def worker_figures(self) -> list[dict[str, Any]]:
        """Per worker process (none in thread isolation): id, pid, state, restarts, rss_bytes,
        cpu_percent, threads."""
        ...


_LATENCY_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0, 5.0)


class _Readings:
    """The last `powermeter` reading of each connector (from its publications)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_index: dict[int, dict[str, Any]] = {}

    def put(self, index: int, reading: dict[str, Any]) -> None:
        with self._lock:
            self.by_index[index] = reading

    def get(self, index: int) -> dict[str, Any] | None:
        with self._lock:
            return self.by_index.get(index)


class _StationCollector(Collector):
    """Gauges read at scrape time: connector states and readings, the process's threads."""

    def __init__(self, station: Figures, readings: _Readings) -> None:
        self._station = station
        self._readings = readings
        self._process = psutil.Process()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["evse", "evse_id"]
        state = GaugeMetricFamily(
            "evse_state", "1 for the connector's current state", labels=[*labels, "state"]
        )
        current = GaugeMetricFamily("evse_current_amperes", "current per phase", labels=[*labels, "phase"])
        power = GaugeMetricFamily("evse_power_watts", "active power, all phases", labels=labels)
        energy = GaugeMetricFamily(
            "evse_energy_import_watt_hours", "the meter's import register", labels=labels
        )
        connectors = self._station.connector_figures()
        for connector in connectors:
            ids = [str(connector["index"]), str(connector["evse_id"])]
            state.add_metric([*ids, str(connector["state"])], 1.0)
            reading = self._readings.get(int(connector["index"]))
            if reading is None:
                continue
            for phase, amperes in reading["current_A"].items():
                current.add_metric([*ids, phase], float(amperes))
            power.add_metric(ids, float(reading["power_W"]["total"]))
            energy.add_metric(ids, float(reading["energy_Wh_import"]["total"]))
        yield from (state, current, power, energy)
        yield from self._journal(labels, connectors)
        threads = GaugeMetricFamily("process_threads", "threads of the station process")
        threads.add_metric([], float(self._process.num_threads()))
        yield threads
        yield from self._workers()

    def _workers(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        up = GaugeMetricFamily("evse_worker_up", "1 while the worker process serves", labels=["worker"])
        rss = GaugeMetricFamily("evse_worker_resident_memory_bytes", "the worker's RSS", labels=["worker"])
        cpu = GaugeMetricFamily(
            "evse_worker_cpu_percent", "the worker's CPU, % of one core", labels=["worker"]
        )
        threads = GaugeMetricFamily("evse_worker_threads", "the worker's threads", labels=["worker"])
        restarts = CounterMetricFamily("evse_worker_restarts", "restarts of the worker", labels=["worker"])
        for worker in self._station.worker_figures():
            label = [str(worker["id"])]
            up.add_metric(label, 1.0 if worker["state"] == "running" else 0.0)
            rss.add_metric(label, float(worker["rss_bytes"]))
            cpu.add_metric(label, float(worker["cpu_percent"]))
            threads.add_metric(label, float(worker["threads"]))
            restarts.add_metric(label, float(worker["restarts"]))
        yield from (up, rss, cpu, threads, restarts)

    def _journal(self, labels: list[str], connectors: list[dict[str, Any]]) -> Iterator[CounterMetricFamily]:
        writes = CounterMetricFamily("evse_journal_writes", "journal transactions committed", labels=labels)
        failures = CounterMetricFamily(
            "evse_journal_write_failures", "journal writes that failed (disk full, I/O error)", labels=labels
        )
        for connector in connectors:
            ids = [str(connector["index"]), str(connector["evse_id"])]
            writes.add_metric(ids, float(connector["journal_writes"]))
            failures.add_metric(ids, float(connector["journal_write_failures"]))
        yield from (writes, failures)


class StationMetrics:
    def __init__(self, station: Figures, evse_ids: Mapping[int, str]) -> None:
        self.registry = CollectorRegistry()
        self._evse_ids = dict(evse_ids)
        self._readings = _Readings()
        ProcessCollector(registry=self.registry)
        self.registry.register(_StationCollector(station, self._readings))
        labels = ["evse", "evse_id"]
        self._sessions = Counter("evse_sessions", "sessions started", labels, registry=self.registry)
        self._restarts = Counter(
            "evse_restarts", "actor restarts by role", [*labels, "role"], registry=self.registry
        )
        self._publications = Counter(
            "station_publications", "publications by variable", ["variable"], registry=self.registry
        )
        self._requests = Histogram(
            "api_request_duration_seconds",
            "API requests by command and reply code: time from reading to answering",
            ["command", "code"],
            buckets=_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    # --- observers -----------------------------------------------------------------------

    def publication(self, topic: str, payload: dict[str, Any]) -> None:
        """A bus observer: count it, and keep what the scrape reads."""
        source, _, variable = topic.rpartition("/")
        self._publications.labels(variable).inc()
        if not source.startswith("evse/"):
            if topic == "station/supervision":
                self._supervision(payload["value"])
            return
        index = int(source[5:])
        if variable == "powermeter":
            self._readings.put(index, payload["value"])
        elif variable == "session_events" and payload["value"].get("event") == "SessionStarted":
            self._sessions.labels(str(index), self._evse_ids.get(index, "")).inc()

    def _supervision(self, value: dict[str, Any]) -> None:
        index = value.get("evse")
        if value.get("event") == "restarted" and isinstance(index, int):
            self._restarts.labels(str(index), self._evse_ids.get(index, ""), str(value.get("actor"))).inc()

    def request_done(self, command: str, code: str, elapsed_s: float) -> None:
        self._requests.labels(command or "(unreadable)", code).observe(elapsed_s)

    # --- the endpoint --------------------------------------------------------------------

    def serve(self, endpoint: str) -> str:
        """Serve /metrics on `endpoint` (http://host:port); returns the address bound."""
        where = urlsplit(endpoint)
        host = (where.hostname or "127.0.0.1").strip("[]")
        self._server, self._thread = start_http_server(where.port or 0, host, registry=self.registry)
        port = self._server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
