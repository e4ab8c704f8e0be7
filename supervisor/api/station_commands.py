"""The station commands: `socket` ones answered on the socket thread, `station` ones on a worker."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from supervisor.api.backend import Backend
from supervisor.api.commands import Command, list_commands
from supervisor.api.protocol import API_VERSION
from supervisor.tree import Unavailable

Hook = Callable[..., Any]  # a station command the command line carries out (reload, logs), given its args


@functools.cache
def package_version() -> str:
    """The installed package's version (read once: each read of the metadata is a few ms)."""
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
        snapshot: dict[str, Any] = self._backend.bus.snapshot(args.get("prefix", ""))
        if "evse_from" in args or "evse_to" in args:
            snapshot["vars"] = {t: v for t, v in snapshot["vars"].items() if _evse_kept(t, args)}
            snapshot["seq"] = {s: n for s, n in snapshot["seq"].items() if _evse_kept(s, args)}
        return snapshot

    def list_evses(self, args: dict[str, Any]) -> Any:
        return [entry for entry in self._backend.list_evses() if _kept(entry, args)]

    def status(self, args: dict[str, Any]) -> Any:
        status: dict[str, Any] = self._backend.status()
        status["evses"] = [entry for entry in status["evses"] if _kept(entry, args)]
        return status

    def set_station_max_current(self, args: dict[str, Any]) -> Any:
        return self._backend.set_station_max_current(args["max_current"])

    def reload(self, args: dict[str, Any]) -> Any:
        return self._hook("reload", "which knows its file")(**args)

    def logs(self, args: dict[str, Any]) -> Any:
        return self._hook("logs", "which keeps its recent log lines")(**args)

    def _hook(self, name: str, why: str) -> Hook:
        hook = self._hooks.get(name)
        if hook is None:
            raise Unavailable(f"{name} needs the station run by `evse-supervisor run`, {why}")
        return hook

    def heartbeat(self) -> None:
        """Publish `station/heartbeat`."""
        value = {"uptime_s": self.uptime_s(), "evses": self._backend.supervision_summary()}
        self._backend.bus.publish("station", "station/heartbeat", value)


def _kept(entry: dict[str, Any], args: dict[str, Any]) -> bool:
    """Whether a connector's entry passes the filter (`evse_from`, `evse_to`, `state`)."""
    index = int(entry["index"])
    if index < args.get("evse_from", index) or index > args.get("evse_to", index):
        return False
    return "state" not in args or entry.get("state") == args["state"]


def _evse_kept(name: str, args: dict[str, Any]) -> bool:
    """Whether a topic or source passes the range: `evse/<n>...` in it, anything else always."""
    parts = name.split("/")
    if len(parts) < 2 or parts[0] != "evse" or not parts[1].isdigit():
        return True
    return _kept({"index": int(parts[1])}, args)
