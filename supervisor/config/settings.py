"""The station's configuration as typed, validated values (see spec/config.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from actors.settings import ConnectorSettings
from supervisor.config.ocpp import OcppSettings
from supervisor.energy.settings import GridSettings
from supervisor.tree.settings import SupervisionSettings


@dataclass(frozen=True)
class ApiSettings:
    command_endpoint: str = "tcp://127.0.0.1:5555"
    publish_endpoint: str = "tcp://127.0.0.1:5556"
    request_timeout_s: float = 5.0
    max_message_bytes: int = 65536
    metrics_endpoint: str | None = None  # http://<loopback>:<port>, serves /metrics; off when None


PLANT_KINDS = ("process", "embedded")


@dataclass(frozen=True)
class SimSettings:
    time_scale: float = 1.0
    plant: str = "process"  # the simulated hardware in its own process, or in the station's (tests)
    plant_endpoint: str | None = None  # the plant's public endpoint; None: ipc://<state_dir>/plant.sock
    plant_linger_s: float = 30.0  # a plant nobody talks to for this long exits


@dataclass(frozen=True)
class WorkerSettings:
    """`isolation: process`: how connectors are shared out among worker processes (durability.md)."""

    connectors_per_worker: int = 1
    start_timeout_s: float = 10.0  # a worker that is not serving by then is killed, as a failure
    max_rss_mb: int = 512  # above it: SIGTERM, then SIGKILL after 2 s


MAX_WORKERS = 64


@dataclass(frozen=True)
class StationSettings:
    name: str = "station"
    state_dir: Path = Path("./state")
    isolation: str = "thread"
    chaos: bool = False
    log_level: str = "INFO"
    supervision: SupervisionSettings = field(default_factory=SupervisionSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    connectors: tuple[ConnectorSettings, ...] = ()
    sim: SimSettings = field(default_factory=SimSettings)
    ocpp: OcppSettings | None = None  # no central system without an `ocpp:` section
    grid: GridSettings = field(default_factory=GridSettings)
    workers: WorkerSettings = field(default_factory=WorkerSettings)
