"""evsectl: the operator's client of the station's ZeroMQ API.

    evsectl status | list
    evsectl call EVSE COMMAND [key=value ...]     # EVSE: index, evse_id, or - for station commands
    evsectl help [COMMAND]                        # every command, or one in full
    evsectl watch [PREFIX] [--json]
    evsectl top [--once]

Values are true/false, integers, numbers, else strings ('"42"' keeps 42 a string).
Exit status: 0 ok, 1 the station answered an error, 2 no reply.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from supervisor.client import ApiError, Client, reference


def parse_value(text: str) -> Any:
    """A command-line value as MessagePack likes it: bool, int, finite float, else the string."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def parse_args(pairs: Sequence[str]) -> dict[str, Any]:
    args = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"arguments are key=value, got {pair!r}")
        args[name] = parse_value(value)
    return args


def parse_evse(text: str) -> int | str | None:
    if text == "-":
        return None
    return int(text) if text.isdigit() else text


def _print_json(value: Any) -> None:
    print(json.dumps(value, default=repr))


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 140)


def cmd_call(client: Client, options: argparse.Namespace) -> int:
    result = client.call(options.name, parse_evse(options.evse), **parse_args(options.args))
    if options.json or not isinstance(result, str | bool | int | float):
        _print_json(result) if options.json else print(json.dumps(result, indent=2, default=repr))
    else:
        print(json.dumps(result) if isinstance(result, bool) else result)
    return 0


def cmd_list(client: Client, options: argparse.Namespace) -> int:
    evses = client.list_evses()
    if options.json:
        _print_json(evses)
        return 0
    table = Table("evse", "evse_id", "driver", "state")
    for entry in evses:
        table.add_row(str(entry.get("index")), entry.get("evse_id"), entry.get("driver"), entry.get("state"))
    _console().print(table)
    return 0


def _ocpp_line(ocpp: dict[str, Any]) -> str:
    """The OCPP connection in one line: url, connected, last message, queue length."""
    link = f"connected ({ocpp.get('registration')})" if ocpp.get("connected") else "not connected"
    seen = ocpp.get("last_message_at")
    last = f"{time.time() - seen:.0f} s ago" if seen else "never"
    return f"ocpp {ocpp.get('url')}: {link}, last message {last}, queue {ocpp.get('queue_length')}"


def cmd_status(client: Client, options: argparse.Namespace) -> int:
    status = client.status()
    if options.json:
        _print_json(status)
        return 0
    rss_mib = status.get("rss_bytes", 0) / 2**20
    print(
        f"epoch {status.get('epoch')}  up {status.get('uptime_s', 0):.0f} s  pid {status.get('pid')}  "
        f"rss {rss_mib:.1f} MiB  cpu {status.get('cpu_percent', 0):.1f} %"
    )
    if status.get("ocpp"):
        print(_ocpp_line(status["ocpp"]))
    table = Table("evse", "evse_id", "state", "supervisor", "restarts", "actors")
    for entry in status.get("evses", []):
        supervision = entry.get("supervisor") or {}
        actors = " ".join(
            f"{a.get('role')}:{a.get('state')}/g{a.get('generation')}" for a in supervision.get("actors", [])
        )
        table.add_row(
            str(entry.get("index")),
            str(entry.get("evse_id")),
            str(entry.get("state")),
            str(supervision.get("state")),
            str(supervision.get("restarts")),
            actors,
        )
    _console().print(table)
    return 0


def short(value: Any, limit: int = 100) -> str:
    text = json.dumps(value, separators=(",", ":"), default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cmd_watch(client: Client, options: argparse.Namespace) -> int:
    try:
        for topic, payload in client.watch(options.prefix):
            if options.json:
                _print_json({"topic": topic, **payload})
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(payload.get("ts", time.time())))
                mark = " (snapshot)" if payload.get("snapshot") else ""
                print(f"{stamp} {topic}{mark} {short(payload.get('value'))}", flush=True)
    except KeyboardInterrupt:
        pass
    return 0


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
            )
        return table


def _total(value: Any, divisor: float) -> float | None:
    if isinstance(value, dict) and isinstance(value.get("total"), int | float):
        return float(value["total"]) / divisor
    return None


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cmd_top(client: Client, options: argparse.Namespace) -> int:
    model = TopModel()
    for entry in client.list_evses():
        row = model.row(int(entry["index"]))
        row.evse_id, row.state = str(entry.get("evse_id", "")), str(entry.get("state", ""))
    for entry in client.status().get("evses", []):
        model.row(int(entry["index"])).restarts = int((entry.get("supervisor") or {}).get("restarts", 0))
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evsectl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="the station's command endpoint")
    parser.add_argument(
        "--publish-endpoint", default="tcp://127.0.0.1:5556", help="the station's publish endpoint"
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply (default 5)")
    parser.add_argument("--retries", type=int, default=1, help="resends after a timeout (default 1)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("status", "the station and its connectors"), ("list", "the connectors")):
        commands.add_parser(name, help=text).add_argument("--json", action="store_true")
    call = commands.add_parser(
        "call",
        help="run one command",
        epilog=f"commands (evsectl help COMMAND for one in full):\n{reference.summary()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    call.add_argument("evse", help="connector index or evse_id; - for a station command")
    call.add_argument("name", metavar="COMMAND")
    call.add_argument("args", nargs="*", metavar="key=value")
    call.add_argument("--json", action="store_true")
    watch = commands.add_parser("watch", help="print publications as they come")
    watch.add_argument("prefix", nargs="?", default="")
    watch.add_argument("--json", action="store_true")
    commands.add_parser("help", help="every command, or one in full").add_argument(
        "topic", nargs="?", metavar="COMMAND"
    )
    top = commands.add_parser("top", help="a live table of the connectors")
    top.add_argument("--once", action="store_true", help="print one frame and exit")
    return parser


_COMMANDS = {"status": cmd_status, "list": cmd_list, "call": cmd_call, "watch": cmd_watch, "top": cmd_top}


def cmd_help(options: argparse.Namespace) -> int:
    """Offline: the commands of this version, from the table (no station needed)."""
    print(reference.details(options.topic) if options.topic else reference.summary())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    if options.command == "help":
        try:
            return cmd_help(options)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    client = Client(
        options.endpoint, options.publish_endpoint, timeout_s=options.timeout, retries=options.retries
    )
    try:
        return _COMMANDS[options.command](client, options)
    except ApiError as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `evsectl watch | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
