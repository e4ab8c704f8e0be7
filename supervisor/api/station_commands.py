"""The station commands: quick ones answered on the socket thread, slow ones on a worker."""

from __future__ import annotations

import time
from importlib import metadata
from typing import Any

from supervisor.api.backend import Backend
from supervisor.api.commands import list_commands
from supervisor.api.protocol import API_VERSION

QUICK = frozenset({"ping", "version", "list_commands", "snapshot"})
SLOW = frozenset({"list_evses", "status"})


def package_version() -> str:
    try:
        return metadata.version("evse-supervisor")
    except metadata.PackageNotFoundError:
        return "unknown"


class StationCommands:
    """Answers station commands from the backend; `quick` never blocks on a connector."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._version = {"api": API_VERSION, "package": package_version()}
        self._commands = list_commands()

    def uptime_s(self) -> float:
        return time.monotonic() - self._backend.started_monotonic

    def quick(self, cmd: str, args: dict[str, Any]) -> Any:
        if cmd == "ping":
            return {"epoch": self._backend.epoch, "uptime_s": self.uptime_s()}
        if cmd == "version":
            return self._version
        if cmd == "list_commands":
            return self._commands
        if cmd == "snapshot":
            return self._backend.bus.snapshot(args.get("prefix", ""))
        raise KeyError(cmd)

    def slow(self, cmd: str) -> Any:
        if cmd == "list_evses":
            return self._backend.list_evses()
        if cmd == "status":
            return self._backend.status()
        raise KeyError(cmd)

    def heartbeat(self) -> None:
        """Publish `station/heartbeat`."""
        value = {"uptime_s": self.uptime_s(), "evses": self._backend.supervision_summary()}
        self._backend.bus.publish("station", "station/heartbeat", value)
