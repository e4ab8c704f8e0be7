"""`evsectl top`: a live table of the connectors, kept up to date from publications."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from supervisor.client import Client
from supervisor.client.options import Target


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 140)


@dataclass
class Row:
    index: int
    evse_id: str = ""
    state: str = ""
    session: str = ""
    current_a: float | None = None
    power_kw: float | None = None
    energy_kwh: float | None = None
    reservation: int | None = None
    restarts: int = 0
    allocated_a: float | None = None  # the station's allocation, with a station limit
    bound_by: str = ""  # what bound it


class TopModel:
    """What `top` shows, kept up to date from publications."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}

    def row(self, index: int) -> Row:
        return self.rows.setdefault(index, Row(index))

    def apply(self, topic: str, value: Any) -> None:
        parts = topic.split("/")
        if topic == "station/heartbeat":
            for entry in value.get("evses", []):
                row = self.row(int(entry["index"]))
                row.state, row.restarts = str(entry.get("state", "")), int(entry.get("restarts", 0))
        elif topic == "station/energy":
            for entry in value.get("evses", []):
                row = self.row(int(entry["index"]))
                row.allocated_a, row.bound_by = entry.get("allocated_a"), str(entry.get("reason", ""))
        elif len(parts) == 3 and parts[0] == "evse" and parts[1].isdigit():
            self._apply_variable(self.row(int(parts[1])), parts[2], value)

    def _apply_variable(self, row: Row, variable: str, value: Any) -> None:
        if variable == "evse_id":
            row.evse_id = str(value)
        elif variable == "powermeter":
            row.power_kw = _total(value.get("power_W"), 1000)
            row.energy_kwh = _total(value.get("energy_Wh_import"), 1000)
            currents = [v for k, v in (value.get("current_A") or {}).items() if k in ("L1", "L2", "L3")]
            row.current_a = max(currents) if currents else None
        elif variable == "session_events":
            event = value.get("event")
            row.session = "" if event == "SessionFinished" else str(value.get("uuid", ""))[:8]
            if event == "ReservationStart":
                row.reservation = value.get("reservation_start", {}).get("reservation_id")
            elif event == "ReservationEnd":
                row.reservation = None

    def table(self) -> Table:
        table = Table(
            "evse",
            "evse_id",
            "state",
            "session",
            "current A",
            "power kW",
            "energy kWh",
            "reserved",
            "restarts",
            "allocated A",
            "bound by",
        )
        for row in sorted(self.rows.values(), key=lambda r: r.index):
            table.add_row(
                str(row.index),
                row.evse_id,
                row.state,
                row.session or "-",
                _number(row.current_a, 1),
                _number(row.power_kw, 2),
                _number(row.energy_kwh, 3),
                "-" if row.reservation is None else str(row.reservation),
                str(row.restarts),
                _number(row.allocated_a, 1),
                row.bound_by or "-",
            )
        return table


def _total(value: Any, divisor: float) -> float | None:
    if isinstance(value, dict) and isinstance(value.get("total"), int | float):
        return float(value["total"]) / divisor
    return None


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cmd_top(client: Client, options: argparse.Namespace, where: Target) -> int:
    model = TopModel()
    for entry in client.list_evses():
        row = model.row(int(entry["index"]))
        row.evse_id, row.state = str(entry.get("evse_id", "")), str(entry.get("state", ""))
    status = client.status()
    for entry in status.get("evses", []):
        model.row(int(entry["index"])).restarts = int((entry.get("supervisor") or {}).get("restarts", 0))
    model.apply("station/energy", status.get("energy") or {})
    if options.once:
        for topic, value in client.snapshot()["vars"].items():
            model.apply(topic, value)
        _console().print(model.table())
        return 0
    try:
        with Live(model.table(), console=_console(), refresh_per_second=4) as live:
            for topic, payload in client.watch(""):
                model.apply(topic, payload.get("value"))
                live.update(model.table())
    except KeyboardInterrupt:
        pass
    return 0
