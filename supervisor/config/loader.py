"""Load and validate the station's YAML configuration (spec/config.md).

Every mistake stops the start with a ConfigError that names the file, the line and the key
path, and says what is allowed. A relative ``state_dir`` is kept as written: it is relative to
the working directory of the running station.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from pathlib import Path

from yaml.nodes import MappingNode, SequenceNode

from actors.settings import ConnectorSettings
from supervisor.config import devices
from supervisor.config.ocpp import parse_ocpp
from supervisor.config.settings import (
    MAX_WORKERS,
    PLANT_KINDS,
    ApiSettings,
    SimSettings,
    StationSettings,
    WorkerSettings,
)
from supervisor.config.shipped import shipped
from supervisor.config.yaml_reader import INTERVAL, POSITIVE, ConfigError, Doc, Map, Range, got, num
from supervisor.energy.settings import PHASE_ROTATIONS, GridSettings
from supervisor.tree import SupervisionSettings

__all__ = ["DEFAULT_CONFIG_NAME", "ConfigError", "apply_overrides", "describe", "load_config", "parse_config"]

DEFAULT_CONFIG_NAME = "station.yaml"
DEFAULT_SOURCE = "<default>"
MAX_CONNECTORS = 1000
KNOWN_DRIVERS = ("sim", "modbus")
_ENDPOINTS_ALLOWED = "tcp://127.0.0.1:<port>, tcp://localhost:<port>, tcp://[::1]:<port> or ipc://<path>"
_METRICS_ALLOWED = "http://127.0.0.1:<port>, http://localhost:<port> or http://[::1]:<port>"
_HTTP = re.compile(r"http://(?P<host>\[[^\]]*\]|[^:/\[\]]*):(?P<port>[0-9]+)/?")
_TCP = re.compile(r"tcp://(?P<host>\[[^\]]*\]|[^:/\[\]]*):(?P<port>[0-9]+|\*)")


_TOP_KEYS = ("station", "api", "connectors", "sim", "ocpp")
_STATION_KEYS: tuple[str, ...] = ("name", "state_dir", "isolation", "chaos", "log_level", "supervision")
_STATION_KEYS += ("grid", "connectors_per_worker", "worker_start_timeout_s", "max_worker_rss_mb")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SUPERVISION_KEYS = tuple(f.name for f in dataclasses.fields(SupervisionSettings))
_API_KEYS = (*(f.name for f in dataclasses.fields(ApiSettings)), "curve")
_CONNECTOR_KEYS: tuple[str, ...] = (
    "evse_id",
    "enabled_at_start",
    "max_current_a",
    "phases",
    "phase_switching",
)
_CONNECTOR_KEYS += ("lock", "free_charging", "require_accept_new_session", "auth_timeout_s", "board", "meter")
_CONNECTOR_KEYS += ("phase_rotation",)


def load_config(path: Path | None = None) -> StationSettings:
    """Read and validate a configuration file; ``None`` is the default shipped in the package."""
    if path is None:
        resource = shipped(DEFAULT_CONFIG_NAME)
        return parse_config(resource.read_text(encoding="utf-8"), DEFAULT_SOURCE)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), None, "", f"not UTF-8 text: {exc.reason}") from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "<string>") -> StationSettings:
    """Validate YAML text; ``source`` names it in errors."""
    doc = Doc(text, source)
    try:
        if doc.root is None:
            raise ConfigError(source, 1, "", "the file is empty; it needs at least a connectors list")
        if not isinstance(doc.root, MappingNode):
            message = f"the top level must be a map with keys {', '.join(_TOP_KEYS)}; got {got(doc.root, '')}"
            raise doc.error(doc.root, "", message)
        return _station(Map(doc, doc.root, "", _TOP_KEYS))
    finally:
        doc.close()


def _station(top: Map) -> StationSettings:
    station = top.section("station", _STATION_KEYS)
    defaults = StationSettings()
    grid = _grid(station.section("grid", ("max_current_a", "phases", "update_interval_s")))
    settings = StationSettings(
        name=station.string("name", defaults.name),
        state_dir=Path(_state_dir(station, str(defaults.state_dir))),
        isolation=_isolation(station),
        chaos=station.boolean("chaos", defaults.chaos),
        log_level=_log_level(station, defaults.log_level),
        supervision=_supervision(station.section("supervision", _SUPERVISION_KEYS)),
        api=_api(top.section("api", _API_KEYS)),
        connectors=_connectors(top),
        grid=grid,
        sim=_sim(top.section("sim", _SIM_KEYS)),
        ocpp=parse_ocpp(top),
        workers=_workers(station),
    )
    devices.check_ping_timeout(station.section("supervision", _SUPERVISION_KEYS), settings)
    problem = process_problem(settings)
    if problem:
        key, message = problem
        raise station.fail(key, message)
    return settings


def _workers(station: Map) -> WorkerSettings:
    d = WorkerSettings()
    return WorkerSettings(
        connectors_per_worker=station.integer(
            "connectors_per_worker", d.connectors_per_worker, Range(1, MAX_CONNECTORS)
        ),
        start_timeout_s=station.number("worker_start_timeout_s", d.start_timeout_s, Range(0.5, 600)),
        max_rss_mb=station.integer("max_worker_rss_mb", d.max_rss_mb, Range(32, 1_000_000)),
    )


def process_problem(settings: StationSettings) -> tuple[str, str] | None:
    """Why these settings cannot run with `isolation: process`, and the `station` key to blame;
    None when they can (or for thread)."""
    if settings.isolation != "process":
        return None
    per_worker = settings.workers.connectors_per_worker
    workers = -(-len(settings.connectors) // per_worker)
    if workers > MAX_WORKERS:
        return "connectors_per_worker", (
            f"{len(settings.connectors)} connectors at {per_worker} per worker make {workers} workers, "
            f"at most {MAX_WORKERS}: raise station.connectors_per_worker"
        )
    if settings.sim.plant != "process":
        return "isolation", (
            "sim.plant: embedded cannot run with workers: the simulated hardware would live in the "
            "root, out of the workers' reach, and must outlive a worker; use sim.plant: process "
            "(the default) or isolation: thread"
        )
    unsupported = [
        ("an ocpp section", settings.ocpp is not None),
        ("station.grid.max_current_a", settings.grid.max_current_a is not None),
    ]
    named = [name for name, present in unsupported if present]
    if named:
        return (
            "isolation",
            f"process isolation does not support {', '.join(named)} yet; use isolation: thread",
        )
    return None


_SIM_KEYS = ("time_scale", "plant", "plant_endpoint", "plant_linger_s")


def _sim(sim: Map) -> SimSettings:
    d = SimSettings()
    plant = sim.string("plant", d.plant)
    if plant not in PLANT_KINDS:
        raise sim.fail("plant", f"must be {' or '.join(PLANT_KINDS)}, got {plant!r}")
    endpoint = None
    if "plant_endpoint" in sim.entries:
        endpoint = _endpoint(sim, "plant_endpoint", "")
    return SimSettings(
        time_scale=sim.number("time_scale", d.time_scale, Range(0, 10000, True)),
        plant=plant,
        plant_endpoint=endpoint,
        plant_linger_s=sim.number("plant_linger_s", d.plant_linger_s, Range(1, 86400)),
    )


def _grid(grid: Map) -> GridSettings:
    d = GridSettings()
    phases = grid.integer("phases", d.phases, Range(1, 3))
    if phases not in (1, 3):
        raise grid.fail("phases", f"must be 1 or 3, got {phases}")
    max_current_a = None
    if "max_current_a" in grid.entries:
        max_current_a = grid.number("max_current_a", 0.0, Range(0, 10000))
    return GridSettings(
        max_current_a=max_current_a,
        phases=phases,
        update_interval_s=grid.number("update_interval_s", d.update_interval_s, INTERVAL),
    )


def _state_dir(station: Map, default: str) -> str:
    value = station.string("state_dir", default)
    if not value:
        raise station.fail("state_dir", "must not be empty")
    return value


def _log_level(station: Map, default: str) -> str:
    value = station.string("log_level", default)
    if value.upper() not in LOG_LEVELS:
        raise station.fail("log_level", f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return value.upper()


def _isolation(station: Map) -> str:
    value = station.string("isolation", "thread")
    problem = _isolation_problem(value)
    if problem:
        raise station.fail("isolation", problem)
    return value


def _isolation_problem(value: str) -> str | None:
    return None if value in ("thread", "process") else f"must be thread or process, got {value!r}"


def _supervision(sup: Map) -> SupervisionSettings:
    d = SupervisionSettings()
    backoff_min_s = sup.number("backoff_min_s", d.backoff_min_s, Range(0))
    backoff_max_s = sup.number("backoff_max_s", d.backoff_max_s, Range(0))
    if backoff_max_s < backoff_min_s:
        message = f"must be at least backoff_min_s ({num(backoff_min_s)}), got {num(backoff_max_s)}"
        raise sup.fail("backoff_max_s", message)
    return SupervisionSettings(
        intensity=sup.integer("intensity", d.intensity, Range(0, 10000)),
        period_s=sup.number("period_s", d.period_s, POSITIVE),
        backoff_min_s=backoff_min_s,
        backoff_max_s=backoff_max_s,
        ping_interval_s=sup.number("ping_interval_s", d.ping_interval_s, POSITIVE),
        ping_timeout_s=sup.number("ping_timeout_s", d.ping_timeout_s, POSITIVE),
        device_loss_s=sup.number("device_loss_s", d.device_loss_s, Range(0, 86400, True)),
    )


def _api(api: Map) -> ApiSettings:
    if "curve" in api.entries:
        message = f"CURVE security is not built yet; bind to loopback: {_ENDPOINTS_ALLOWED}"
        raise api.fail("curve", message)
    d = ApiSettings()
    command = _endpoint(api, "command_endpoint", d.command_endpoint)
    publish = _endpoint(api, "publish_endpoint", d.publish_endpoint)
    if _same_endpoint(command, publish):
        raise api.fail("publish_endpoint", f"must differ from command_endpoint, both are {publish!r}")
    return ApiSettings(
        command_endpoint=command,
        publish_endpoint=publish,
        request_timeout_s=api.number("request_timeout_s", d.request_timeout_s, Range(0, 300, True)),
        max_message_bytes=api.integer(
            "max_message_bytes", d.max_message_bytes, Range(1024, 16 * 1024 * 1024)
        ),
        metrics_endpoint=_metrics_endpoint(api),
    )


def _metrics_endpoint(api: Map) -> str | None:
    if "metrics_endpoint" not in api.entries:
        return None
    value = api.string("metrics_endpoint", "")
    match = _HTTP.fullmatch(value)
    if match is None or int(match["port"]) > 65535:
        raise api.fail("metrics_endpoint", f"must be {_METRICS_ALLOWED}, got {value!r}")
    if not _is_loopback(match["host"]):
        raise api.fail("metrics_endpoint", f"serves loopback only: {_METRICS_ALLOWED}, got {value!r}")
    return value.rstrip("/")


def _endpoint(api: Map, name: str, default: str) -> str:
    value = api.string(name, default)
    problem = _endpoint_problem(value)
    if problem:
        raise api.fail(name, problem)
    return value


def _endpoint_problem(url: str) -> str | None:
    """Why ``url`` may not be bound (loopback tcp or ipc only), or None."""
    if url.startswith("ipc://"):
        return None if len(url) > len("ipc://") else f"ipc:// needs a path; allowed: {_ENDPOINTS_ALLOWED}"
    match = _TCP.fullmatch(url)
    if match is None:
        return f"must be {_ENDPOINTS_ALLOWED}, got {url!r}"
    port = match["port"]
    if port != "*" and int(port) > 65535:
        return f"port must be from 0 to 65535, got {port}"
    if not _is_loopback(match["host"]):
        return (
            f"binding beyond loopback requires CURVE security, which is not built yet; "
            f"got {url!r}, use {_ENDPOINTS_ALLOWED}"
        )
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def _same_endpoint(a: str, b: str) -> bool:
    """Two endpoints that would clash when both are bound (ephemeral ports never clash)."""
    return a == b and not a.endswith((":*", ":0"))


def _connectors(top: Map) -> tuple[ConnectorSettings, ...]:
    node = top.require("connectors")
    if not isinstance(node, SequenceNode) or not node.value or len(node.value) > MAX_CONNECTORS:
        given = f"{len(node.value)} entries" if isinstance(node, SequenceNode) else got(node, "")
        message = f"must be a list of 1 to {MAX_CONNECTORS} connectors, got {given}"
        raise top.doc.error(node, "connectors", message)
    connectors: list[ConnectorSettings] = []
    first_use: dict[str, int] = {}
    for position, item in enumerate(node.value):
        fields = Map(top.doc, item, f"connectors[{position}]", _CONNECTOR_KEYS)
        connector = _connector(fields, position + 1)
        if connector.evse_id in first_use:
            used = f"connectors[{first_use[connector.evse_id]}]"
            message = f"duplicate evse_id {connector.evse_id!r}, already used by {used}"
            raise top.doc.error(fields.entries["evse_id"], fields.key("evse_id"), message)
        first_use[connector.evse_id] = position
        connectors.append(connector)
    return tuple(connectors)


def _connector(c: Map, index: int) -> ConnectorSettings:
    d = ConnectorSettings(index=index, evse_id="")
    phases = c.integer("phases", d.phases, Range(1, 3))
    if phases not in (1, 3):
        raise c.fail("phases", f"must be 1 or 3, got {phases}")
    board = c.section("board", devices.BOARD_KEYS)
    meter = c.section("meter", devices.METER_KEYS)
    board_driver, meter_driver = _driver(board, d.board_driver), _driver(meter, d.meter_driver)
    board_device = devices.device_of(board, board_driver, "board")
    caps = devices.capabilities(
        board_device, c.number("max_current_a", d.max_current_a, Range(6, 80)), phases
    )
    phase_switching = devices.capable(c, "phase_switching", phases == 3, caps.phase_switching)
    if phase_switching and phases != 3:
        message = f"true requires phases: 3, got phases: {phases}"
        raise c.fail("phase_switching", message)
    return ConnectorSettings(
        index=index,
        evse_id=_evse_id(c),
        enabled_at_start=c.boolean("enabled_at_start", d.enabled_at_start),
        max_current_a=c.number("max_current_a", d.max_current_a, Range(6, 80)),
        phases=phases,
        phase_switching=phase_switching,
        lock=devices.capable(c, "lock", d.lock, caps.lock),
        free_charging=c.boolean("free_charging", d.free_charging),
        require_accept_new_session=c.boolean("require_accept_new_session", d.require_accept_new_session),
        auth_timeout_s=c.number("auth_timeout_s", d.auth_timeout_s, Range(0, 3600, True)),
        telemetry_interval_s=board.number("telemetry_interval_s", d.telemetry_interval_s, INTERVAL),
        meter_interval_s=meter.number("interval_s", d.meter_interval_s, INTERVAL),
        board_driver=board_driver,
        meter_driver=meter_driver,
        state_f=caps.state_f,
        telemetry=caps.telemetry,
        board_device=board_device,
        meter_device=devices.device_of(meter, meter_driver, "meter"),
        phase_rotation=_phase_rotation(c, d.phase_rotation),
    )


def _phase_rotation(c: Map, default: str) -> str:
    value = c.string("phase_rotation", default)
    if value not in PHASE_ROTATIONS:
        raise c.fail("phase_rotation", f"must be one of {', '.join(PHASE_ROTATIONS)}, got {value!r}")
    return value


def _evse_id(c: Map) -> str:
    node = c.require("evse_id")
    value = c.string("evse_id", "")
    if not value or any(ch.isspace() for ch in value):
        raise c.doc.error(node, c.key("evse_id"), f"must be a non-empty string without spaces, got {value!r}")
    return value


def _driver(section: Map, default: str) -> str:
    value = section.string("driver", default)
    if value not in KNOWN_DRIVERS:
        message = f"unknown driver {value!r}, known: {', '.join(KNOWN_DRIVERS)}"
        raise section.fail("driver", message)
    return value


def apply_overrides(
    settings: StationSettings,
    *,
    command_endpoint: str | None = None,
    publish_endpoint: str | None = None,
    state_dir: Path | None = None,
    isolation: str | None = None,
    chaos: bool | None = None,
) -> StationSettings:
    """Settings with the command line's flags applied, checked like the file's values."""
    api = settings.api
    for flag, url in (("--command-endpoint", command_endpoint), ("--publish-endpoint", publish_endpoint)):
        problem = None if url is None else _endpoint_problem(url)
        if problem:
            raise ConfigError("", None, flag, problem)
    api = dataclasses.replace(
        api,
        command_endpoint=command_endpoint or api.command_endpoint,
        publish_endpoint=publish_endpoint or api.publish_endpoint,
    )
    if _same_endpoint(api.command_endpoint, api.publish_endpoint):
        flag = "--publish-endpoint" if publish_endpoint is not None else "--command-endpoint"
        raise ConfigError(
            "", None, flag, f"command and publish endpoints must differ, both are {api.publish_endpoint!r}"
        )
    problem = None if isolation is None else _isolation_problem(isolation)
    if problem:
        raise ConfigError("", None, "--isolation", problem)
    if state_dir is not None and not str(state_dir):
        raise ConfigError("", None, "--state-dir", "must not be empty")
    overridden = dataclasses.replace(
        settings,
        api=api,
        state_dir=settings.state_dir if state_dir is None else Path(state_dir),
        isolation=settings.isolation if isolation is None else isolation,
        chaos=settings.chaos if chaos is None else chaos,
    )
    refused = process_problem(overridden)
    if refused:
        key, message = refused
        raise ConfigError("", None, "--isolation" if isolation is not None else f"station.{key}", message)
    return overridden


def describe(settings: StationSettings) -> str:
    """A human summary of the settings, one line per topic and per connector."""
    s, sup, api = settings, settings.supervision, settings.api
    where = "" if s.state_dir.is_absolute() else " (relative to the working directory)"
    lines = [
        f"station {s.name!r}: {len(s.connectors)} connectors, isolation {s.isolation}, "
        f"chaos commands {'allowed' if s.chaos else 'refused'}",
        f"state_dir: {s.state_dir}{where}",
        *_describe_workers(s),
        f"api: commands on {api.command_endpoint}, publications on {api.publish_endpoint}, "
        f"request timeout {num(api.request_timeout_s)} s, messages up to {api.max_message_bytes} bytes, "
        f"metrics {'on ' + api.metrics_endpoint + '/metrics' if api.metrics_endpoint else 'off'}",
        f"log level: {s.log_level}",
        f"supervision: {sup.intensity} restarts per {num(sup.period_s)} s per connector, backoff "
        f"{num(sup.backoff_min_s)} to {num(sup.backoff_max_s)} s, "
        f"ping every {num(sup.ping_interval_s)} s, hung after {num(sup.ping_timeout_s)} s, "
        f"a device away for {num(sup.device_loss_s)} s is lost",
        _describe_sim(s.sim),
        f"ocpp: charge point {s.ocpp.charge_point_id} of {s.ocpp.endpoint}" if s.ocpp else "ocpp: none",
        _describe_grid(s),
    ]
    return "\n".join(lines + [_describe_connector(c) for c in s.connectors])


def _describe_workers(s: StationSettings) -> list[str]:
    if s.isolation != "process":
        return []
    w = s.workers
    return [
        f"workers: {w.connectors_per_worker} connector(s) each, serving within {num(w.start_timeout_s)} s "
        f"of their start, restarted above {w.max_rss_mb} MB"
    ]


def _describe_sim(sim: SimSettings) -> str:
    line = f"sim: time_scale {num(sim.time_scale)}, plant {sim.plant}"
    if sim.plant != "process":
        return line
    endpoint = sim.plant_endpoint or "ipc://<state_dir>/plant.sock"
    return f"{line} on {endpoint}, exits after {num(sim.plant_linger_s)} s with nobody talking to it"


def _describe_grid(s: StationSettings) -> str:
    grid = s.grid
    fuse = "no station limit" if grid.max_current_a is None else f"{num(grid.max_current_a)} A per phase"
    return (
        f"grid: {fuse}, {grid.phases} phase(s), allocation every {num(grid.update_interval_s)} s; "
        f"phase rotations {' '.join(c.phase_rotation for c in s.connectors)}"
    )


def _describe_connector(c: ConnectorSettings) -> str:
    flags = [
        "phase switching" if c.phase_switching else "",
        "lock" if c.lock else "fixed cable",
        "free charging" if c.free_charging else "",
        "sessions wait for accept_new_session" if c.require_accept_new_session else "",
        "" if c.enabled_at_start else "disabled at start",
    ]
    return (
        f"connector {c.index} {c.evse_id}: {num(c.max_current_a)} A, {c.phases} phase(s), "
        f"{', '.join(f for f in flags if f)}, auth timeout {num(c.auth_timeout_s)} s, "
        f"board {devices.describe_device(c.board_driver, c.board_device)} "
        f"every {num(c.board_device.poll_interval_s if c.board_device else c.telemetry_interval_s)} s, "
        f"meter {devices.describe_device(c.meter_driver, c.meter_device)} every {num(c.meter_interval_s)} s"
    )
