"""The station commands: `socket` ones answered on the socket thread, `station` ones on a worker."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from supervisor.api.backend import Backend
from supervisor.api.commands import Command, list_commands
from supervisor.api.protocol import API_VERSION
from supervisor.tree import Unavailable

Hook = Callable[[], Any]  # a station command the command line carries out (reload)


def package_version() -> str:
    try:
        return metadata.version("evse-supervisor")
    except metadata.PackageNotFoundError:
        return "unknown"


class StationCommands:
    """Answers station commands from the backend: one method per command, named like it.

    A `socket` command never blocks on a connector (it runs on the socket thread).
    """

    def __init__(self, backend: Backend, hooks: Mapping[str, Hook] | None = None) -> None:
        self._backend = backend
        self._hooks = dict(hooks or {})
        self._version = {"api": API_VERSION, "package": package_version()}
        self._commands = list_commands()

    def uptime_s(self) -> float:
        return time.monotonic() - self._backend.started_monotonic

    def run(self, command: Command, args: dict[str, Any]) -> Any:
        handler: Callable[[dict[str, Any]], Any] = getattr(self, command.name)
        return handler(args)

    def ping(self, args: dict[str, Any]) -> Any:
        return {
            "epoch": self._backend.epoch,
            "journal_id": self._backend.journal_id,
            "uptime_s": self.uptime_s(),
        }

    def version(self, args: dict[str, Any]) -> Any:
        return self._version

    def list_commands(self, args: dict[str, Any]) -> Any:
        return self._commands

    def snapshot(self, args: dict[str, Any]) -> Any:
        return self._backend.bus.snapshot(args.get("prefix", ""))

    def list_evses(self, args: dict[str, Any]) -> Any:
        return self._backend.list_evses()

    def status(self, args: dict[str, Any]) -> Any:
        return self._backend.status()

    def set_station_max_current(self, args: dict[str, Any]) -> Any:
        return self._backend.set_station_max_current(args["max_current"])

    def reload(self, args: dict[str, Any]) -> Any:
        hook = self._hooks.get("reload")
        if hook is None:
            raise Unavailable("reload needs the station run by `evse-supervisor run`, which knows its file")
        return hook()

    def heartbeat(self) -> None:
        """Publish `station/heartbeat`."""
        value = {"uptime_s": self.uptime_s(), "evses": self._backend.supervision_summary()}
        self._backend.bus.publish("station", "station/heartbeat", value)
