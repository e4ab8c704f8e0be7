"""Reload (SIGHUP, `evse-supervisor reload`, the API's `reload`): re-read the configuration file.

What can change while the station runs (the log level, the supervision limits, the grid's
`max_current_a`, a connector's free_charging, require_accept_new_session and
auth_timeout_s) is applied and logged, one line per key; anything
else is named in one warning and waits for a restart; a file that does not load changes
nothing and the error says why. The result answers the API:
`{"applied": ["station.log_level: INFO -> DEBUG", ...], "needs_restart": ["api.command_endpoint"]}`
(and `"error"` when the file was refused).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from actors.settings import ConnectorSettings
from supervisor.config import ConfigError
from supervisor.config.settings import StationSettings
from supervisor.ops.logs import LogSetup
from supervisor.tree import SupervisionSettings

log = logging.getLogger("evse_supervisor.reload")

LIVE_CONNECTOR_KEYS = frozenset({"free_charging", "require_accept_new_session", "auth_timeout_s"})
_CONNECTOR_KEY_NAMES = {
    "telemetry_interval_s": "board.telemetry_interval_s",
    "meter_interval_s": "meter.interval_s",
    "board_driver": "board.driver",
    "meter_driver": "meter.driver",
}
_TOP_LEVEL = frozenset({"api", "sim", "connectors", "ocpp"})


def _flatten(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _flatten(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
    else:
        yield path, value


def _key_name(path: str) -> str:
    """A settings path as the configuration file spells it."""
    head = path.split(".", 1)[0]
    return path if head in _TOP_LEVEL else f"station.{path}"


def _differences(old: Any, new: Any, prefix: str) -> list[tuple[str, Any, Any]]:
    before, after = dict(_flatten(old, prefix)), dict(_flatten(new, prefix))
    return [
        (path, before.get(path), after.get(path)) for path in after if before.get(path) != after.get(path)
    ]


def _live_grid_limit(path: str, value: Any) -> bool:
    """The station's grid limit changes live (as `set_station_max_current`); removing it does not."""
    return path == "grid.max_current_a" and value is not None


def _show(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)


class Target(Protocol):
    """What a reload changes in a running station (a Station, or a process-isolated root)."""

    def set_station_max_current(self, max_current: float) -> bool: ...

    def set_supervision(self, limits: SupervisionSettings) -> None:
        """Every connector supervisor's restart limits from now on."""
        ...

    def update_connector(self, settings: ConnectorSettings) -> None:
        """A connector's settings read at each decision (free_charging, ...), from the next one on."""
        ...

    def set_log_level(self, level: str) -> None:
        """Anything beyond this process that logs (a root's workers); the process's own is `logs`'s."""
        ...


class Reloader:
    """Re-reads the file through `load` (which applies the command line's flags again)."""

    def __init__(
        self, load: Callable[[], StationSettings], running: StationSettings, station: Target, logs: LogSetup
    ) -> None:
        self._load = load
        self.running = running
        self._station = station
        self._logs = logs
        self._lock = threading.Lock()

    def reload(self) -> dict[str, Any]:
        with self._lock:
            try:
                new = self._load()
            except ConfigError as exc:
                log.error("reload refused, nothing changed: %s", exc)
                return {"applied": [], "needs_restart": [], "error": str(exc)}
            applied, needs_restart = self._apply(new)
        for line in applied:
            log.info("reload applied %s", line)
        if needs_restart:
            log.warning(
                "reload: these changes need a restart and were left as they are: %s", ", ".join(needs_restart)
            )
        if not applied and not needs_restart:
            log.info("reload: nothing changed")
        return {"applied": applied, "needs_restart": needs_restart}

    def _apply(self, new: StationSettings) -> tuple[list[str], list[str]]:
        old = self.running
        applied: list[str] = []
        needs_restart: list[str] = []
        station_only = dataclasses.replace(old, connectors=()), dataclasses.replace(new, connectors=())
        for path, before, after in _differences(*station_only, ""):
            if path == "log_level" or path.startswith("supervision.") or _live_grid_limit(path, after):
                applied.append(f"{_key_name(path)}: {_show(before)} -> {_show(after)}")
            else:
                needs_restart.append(_key_name(path))
        if new.log_level != old.log_level:
            self._logs.set_level(new.log_level)
            self._station.set_log_level(new.log_level)
        limit_a = new.grid.max_current_a
        if _live_grid_limit("grid.max_current_a", limit_a) and limit_a != old.grid.max_current_a:
            self._station.set_station_max_current(float(limit_a))  # type: ignore[arg-type]
        if new.supervision != old.supervision:
            self._station.set_supervision(new.supervision)
        connectors, connector_applied, connector_restart = self._connectors(old, new)
        self.running = dataclasses.replace(
            old, log_level=new.log_level, supervision=new.supervision, connectors=connectors
        )
        if _live_grid_limit("grid.max_current_a", limit_a):
            self.running = dataclasses.replace(
                self.running, grid=dataclasses.replace(self.running.grid, max_current_a=limit_a)
            )
        return applied + connector_applied, needs_restart + connector_restart

    def _connectors(
        self, old: StationSettings, new: StationSettings
    ) -> tuple[tuple[Any, ...], list[str], list[str]]:
        applied: list[str] = []
        needs_restart: list[str] = []
        if len(new.connectors) != len(old.connectors):
            needs_restart.append(f"connectors ({len(old.connectors)} -> {len(new.connectors)} entries)")
        running = list(old.connectors)
        for position, (before, after) in enumerate(zip(old.connectors, new.connectors, strict=False)):
            live: dict[str, Any] = {}
            for path, was, now in _differences(before, after, ""):
                name = f"connectors[{position}].{_CONNECTOR_KEY_NAMES.get(path, path)}"
                if path in LIVE_CONNECTOR_KEYS:
                    live[path] = now
                    applied.append(f"{name}: {_show(was)} -> {_show(now)}")
                else:
                    needs_restart.append(name)
            if live:
                running[position] = dataclasses.replace(before, **live)
                self._station.update_connector(running[position])
        return tuple(running), applied, needs_restart
