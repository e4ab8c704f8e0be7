"""`evsectl top`: a live table of the connectors, kept up to date from publications.

A header names the station, its epoch, uptime and link: connected, stale (two heartbeats
missed) or no answer (the station does not answer a ping). Each row shows the active
error, the session's energy (the meter's register minus its value at SessionStarted) and
the connector's failures (actors that failed, not the siblings restarted with them). The
columns that do not fit the width are dropped, least important first. With process
isolation a second table shows the workers of the page's connectors (pid, RSS, CPU,
restarts, state, last exit; `workers.py`). `q` quits.

Only one page of connectors, the rows that fit the terminal's height, is fetched, kept and
drawn (see `top_page`): at 1,000 connectors `top` asks the station for the page's range
(`status`/`snapshot` with `evse_from`/`evse_to`) and applies only the page's publications.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Column, Table
from rich.text import Text

from supervisor.client import Client
from supervisor.client.options import Target
from supervisor.client.top_page import Page, rows_for
from supervisor.client.workers import apply_event, page_workers, rows_fitting, workers_table

HEARTBEAT_S = 1.0  # the station's heartbeat interval
STALE_AFTER_S = 2 * HEARTBEAT_S
EVERY_ROW = 1_000_000  # `--once` into a pipe: one page of every connector
ERROR_STATES = ("Error", "Faulted")
# (header, importance: lower stays longer)
COLUMNS = (
    ("evse", 0),
    ("state", 1),
    ("error", 2),
    ("session kWh", 3),
    ("power kW", 4),
    ("failures", 5),
    ("evse_id", 6),
    ("current A", 7),
    ("session", 8),
    ("reserved", 9),
    ("allocated A", 10),
    ("bound by", 11),
)


@dataclass
class Row:
    index: int
    evse_id: str = ""
    state: str = ""
    session: str = ""
    current_a: float | None = None
    power_kw: float | None = None
    energy_wh: float | None = None  # the meter's register
    session_start_wh: float | None = None
    error: str = ""
    reservation: int | None = None
    failures: int = 0
    allocated_a: float | None = None  # the station's allocation, with a station limit
    bound_by: str = ""  # what bound it

    def session_kwh(self) -> float | None:
        if not self.session or self.energy_wh is None or self.session_start_wh is None:
            return None
        return max(0.0, self.energy_wh - self.session_start_wh) / 1000

    def cells(self) -> dict[str, str]:
        return {
            "evse": str(self.index),
            "state": self.state,
            "error": self.error or "-",
            "session kWh": _number(self.session_kwh(), 3),
            "power kW": _number(self.power_kw, 2),
            "failures": str(self.failures),
            "evse_id": self.evse_id,
            "current A": _number(self.current_a, 1),
            "session": self.session or "-",
            "reserved": "-" if self.reservation is None else str(self.reservation),
            "allocated A": _number(self.allocated_a, 1),
            "bound by": self.bound_by or "-",
        }


@dataclass
class TopModel:
    """What `top` shows: the station's header and one row per connector of the page."""

    where: Target
    name: str = "?"
    epoch: str = ""
    uptime_s: float = 0.0
    link: str = "connected"
    last_heartbeat_s: float = field(default_factory=time.monotonic)
    rows: dict[int, Row] = field(default_factory=dict)  # the page's rows only
    workers: list[dict[str, Any]] = field(default_factory=list)  # `status`'s workers (process isolation)
    page: Page = field(default_factory=Page)
    start_at: int | None = None  # `--evse N`: the first page starts there
    typing: str | None = None  # a jump being typed, shown in the footer

    def row(self, index: int) -> Row | None:
        return self.rows.get(index)

    def load(self, client: Client) -> None:
        """The connectors' indices (`list_evses`), then the page's rows."""
        first = self.page.span()
        self.page.indices = sorted(int(entry["index"]) for entry in client.list_evses())
        self.page.jump(first[0] if first else self.start_at or 0)
        self.load_page(client)

    def load_page(self, client: Client) -> None:
        """The page's rows from the station: status, the snapshot, each session's start."""
        span = self.page.span()
        low, high = span if span else (None, None)
        self.rows = {index: Row(index) for index in self.page.visible()}
        status = client.status(evse_from=low, evse_to=high)
        self.workers = list(status.get("workers") or [])
        self.name, self.epoch = str(status.get("name") or self.where.name or "?"), str(status.get("epoch"))
        self.uptime_s, self.link, self.last_heartbeat_s = (
            float(status.get("uptime_s", 0)),
            "connected",
            time.monotonic(),
        )
        for entry in status.get("evses", []):
            if (row := self.row(int(entry["index"]))) is not None:
                row.evse_id, row.state = str(entry.get("evse_id", "")), str(entry.get("state", ""))
                row.failures = _failures(entry.get("supervisor") or {})
        if isinstance(status.get("energy"), dict):
            self.apply("station/energy", status["energy"])
        for topic, value in client.snapshot(evse_from=low, evse_to=high)["vars"].items():
            self.apply(topic, value)
        for row in self.rows.values():
            if row.session:
                _session_start(client, row)

    def apply(self, topic: str, value: Any) -> None:
        parts = topic.split("/")
        if topic == "station/heartbeat":
            self.uptime_s, self.link = float(value.get("uptime_s", 0)), "connected"
            self.last_heartbeat_s = time.monotonic()
            for entry in value.get("evses", []):
                if (row := self.row(int(entry["index"]))) is None:
                    continue
                row.state = str(entry.get("state", ""))
                row.failures = int(entry.get("failures", row.failures))
                if row.state not in ERROR_STATES:
                    row.error = ""
        elif topic == "station/supervision" and isinstance(value, dict) and value.get("actor") == "worker":
            apply_event(self.workers, value)
        elif topic == "station/energy":
            for entry in value.get("evses", []):
                if (row := self.row(int(entry["index"]))) is not None:
                    row.allocated_a, row.bound_by = entry.get("allocated_a"), str(entry.get("reason", ""))
        elif len(parts) == 3 and parts[0] == "evse" and parts[1].isdigit() and isinstance(value, dict | str):
            _apply_variable(self.row(int(parts[1])), parts[2], value)

    def topics(self) -> set[str]:
        """The publications the page needs: the station's and the page's connectors'."""
        return {"station/", *(f"evse/{index}/" for index in self.page.visible())}

    def age(self, now_s: float) -> None:
        """Stale once two heartbeats are missed (no answer is decided by a ping)."""
        if self.link == "connected" and now_s - self.last_heartbeat_s > STALE_AFTER_S:
            self.link = "stale"

    def refresh_workers(self, client: Client) -> None:
        """The workers' pids, RSS and CPU again (`status` of the page's first connector only)."""
        span = self.page.span()
        low = span[0] if span else None
        self.workers = list(client.status(evse_from=low, evse_to=low).get("workers") or [])

    def rows_fitting(self, lines: int) -> int:
        """Connector rows for a terminal of `lines` lines, room left for the workers' table."""
        return rows_fitting(rows_for(lines), self.workers)

    def render(self, width: int) -> Group:
        shown = page_workers(self.workers, self.page.visible())
        return Group(
            Text(self.header(), no_wrap=True, overflow="ellipsis"),
            self.table(width),
            *([workers_table(shown)] if shown else []),
            Text(self.page.footer(self.typing), no_wrap=True, overflow="ellipsis"),
        )

    def header(self) -> str:
        up = f"up {_duration(self.uptime_s)}" if self.link != "no answer" else "up ?"
        return (
            f"station {self.name}  epoch {self.epoch[:8]}  {up}  {self.link.upper()}\n"
            f"commands {self.where.endpoint}  publications {self.where.publish_endpoint}"
        )

    def table(self, width: int) -> Table:
        rows = [self.rows[index].cells() for index in self.page.visible() if index in self.rows]
        kept = fitting(rows, width)
        table = Table(*(Column(name, no_wrap=True) for name in kept), box=box.SIMPLE_HEAD, pad_edge=False)
        for cells in rows:
            style = "dim" if self.link != "connected" else None
            table.add_row(*(cells[name] for name in kept), style=style)
        return table


def fitting(rows: list[dict[str, str]], width: int) -> list[str]:
    """The columns that fit `width`, least important dropped first, in display order."""
    # a cell's text, its padding (one each side) and the divider after it (the last has none)
    widths = {name: max([len(name), *(len(r[name]) for r in rows)]) + 3 for name, _ in COLUMNS}
    kept = [name for name, _ in COLUMNS]
    for name, _ in sorted(COLUMNS, key=lambda column: -column[1]):
        if sum(widths[k] for k in kept) - 1 <= width or len(kept) == 1:
            break
        kept.remove(name)
    return kept


def _apply_variable(row: Row | None, variable: str, value: Any) -> None:
    if row is None:  # not on the page
        return
    if variable == "evse_id":
        row.evse_id = str(value)
    elif variable == "powermeter":
        row.power_kw = _total(value.get("power_W"), 1000)
        row.energy_wh = _total(value.get("energy_Wh_import"), 1)
        currents = [v for k, v in (value.get("current_A") or {}).items() if k in ("L1", "L2", "L3")]
        row.current_a = max(currents) if currents else None
    elif variable == "session_events":
        _apply_event(row, value)


def _apply_event(row: Row, value: dict[str, Any]) -> None:
    event = value.get("event")
    row.session = "" if event == "SessionFinished" else str(value.get("uuid", ""))[:8]
    if event == "SessionStarted":
        started = value.get("session_started") or {}
        start = started.get("energy_Wh_import", value.get("energy_Wh_import"))
        row.session_start_wh = float(start) if isinstance(start, int | float) else row.energy_wh
    if value.get("error"):
        row.error = str(value["error"])
    if event == "ReservationStart":
        row.reservation = (value.get("reservation_start") or {}).get("reservation_id")
    elif event == "ReservationEnd":
        row.reservation = None


def _session_start(client: Client, row: Row) -> None:
    """The register at this session's SessionStarted, from the connector's event log."""
    events = client.get_events(row.index).get("events", [])
    for event in reversed(events):
        payload = event.get("value", event) if isinstance(event, dict) else {}
        if payload.get("event") == "SessionStarted":
            _apply_event(row, payload)
            row.session = str(payload.get("uuid", ""))[:8]
            return


def _failures(supervision: dict[str, Any]) -> int:
    return int(supervision.get("failures", 0))


def _total(value: Any, divisor: float) -> float | None:
    if isinstance(value, dict) and isinstance(value.get("total"), int | float):
        return float(value["total"]) / divisor
    return None


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def screen_width(options: argparse.Namespace) -> int:
    return int(options.width or shutil.get_terminal_size((80, 24)).columns)


def page_rows(options: argparse.Namespace) -> int:
    """`--rows`, else what fits the terminal; `--once` into a pipe: every connector."""
    if options.rows:
        return int(options.rows)
    if options.once and not sys.stdout.isatty():
        return EVERY_ROW
    return rows_for(shutil.get_terminal_size((80, 24)).lines)


def cmd_top(client: Client, options: argparse.Namespace, where: Target) -> int:
    """One frame (`--once`) or the live view; exit 3 when the station does not answer."""
    model, width = TopModel(where, start_at=options.evse), screen_width(options)
    model.page.size = page_rows(options)
    fits_terminal = not options.rows and model.page.size != EVERY_ROW
    console = Console(width=width, force_terminal=sys.stdout.isatty())
    try:
        model.load(client)
        if model.workers and fits_terminal:  # room for the workers' table too
            model.page.resize(model.rows_fitting(shutil.get_terminal_size((80, 24)).lines))
            model.load_page(client)
    except TimeoutError:
        model.link = "no answer"
        console.print(model.render(width))
        return 3
    if options.once:
        console.print(model.render(width))
        return 0
    from supervisor.client.top_live import run_live

    return run_live(client, model, console, width, fixed_rows=bool(options.rows))
