"""evsectl's command line: global flags anywhere on the line, and where the endpoints come from.

The endpoints, first found wins: `--endpoint` / `--publish-endpoint`; the station's file
given by `--config` (its `api` endpoints, or those it bound, from `state_dir/endpoints.json`,
when they end in `:*`); `EVSECTL_ENDPOINT` / `EVSECTL_PUBLISH_ENDPOINT`; the defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from typing import Any, NoReturn

from supervisor.client import reference
from supervisor.config import ConfigError, load_config

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
DEFAULT_PUBLISH_ENDPOINT = "tcp://127.0.0.1:5556"
ENDPOINT_ENV = "EVSECTL_ENDPOINT"
PUBLISH_ENDPOINT_ENV = "EVSECTL_PUBLISH_ENDPOINT"
ENDPOINTS_FILE = "endpoints.json"  # written by the station in its state_dir


class UsageError(Exception):
    """The command line is wrong (exit 2); `usage` is the subcommand's usage line."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class Parser(argparse.ArgumentParser):
    """Raises UsageError instead of exiting, so that `--json` can answer it in JSON."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())


@dataclass(frozen=True)
class Target:
    """The station to talk to, and where its endpoints came from."""

    endpoint: str
    publish_endpoint: str
    source: str
    name: str | None = None


def package_version() -> str:
    try:
        return metadata.version("evse-supervisor")
    except metadata.PackageNotFoundError:
        return "unknown"


def positive_seconds(text: str) -> float:
    """`--timeout`: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seconds must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"seconds must be positive and finite, got {text!r}")
    return value


def retry_count(text: str) -> int:
    """`--retries`: a count from 0 to 100."""
    if not text.isdigit() or int(text) > 100:
        raise argparse.ArgumentTypeError(f"retries must be an integer from 0 to 100, got {text!r}")
    return int(text)


def line_count(text: str) -> int:
    """`logs -n`: a count from 1."""
    return from_one("lines", text)


def from_one(what: str, text: str) -> int:
    """An integer from 1 (a count or a connector's index), else a usage error naming `what`."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{what} must be an integer from 1, got {text!r}")
    return int(text)


GLOBAL_DEFAULTS: dict[str, object] = {
    "endpoint": None,
    "publish_endpoint": None,
    "config": None,
    "timeout": 5.0,
    "retries": 1,
    "json": False,
}


def global_flags() -> Parser:
    """The flags every subcommand takes too (defaults applied after parsing, see `parse`)."""
    flags = Parser(add_help=False)
    group = flags.add_argument_group("global options (anywhere on the line)")
    add = group.add_argument
    add(
        "--endpoint",
        default=argparse.SUPPRESS,
        help=f"command endpoint (${ENDPOINT_ENV}, {DEFAULT_ENDPOINT})",
    )
    add(
        "--publish-endpoint",
        default=argparse.SUPPRESS,
        help=f"publish endpoint (${PUBLISH_ENDPOINT_ENV}, {DEFAULT_PUBLISH_ENDPOINT})",
    )
    add("--config", type=pathlib.Path, default=argparse.SUPPRESS, help="take both from a station's file")
    add("--timeout", type=positive_seconds, default=argparse.SUPPRESS, help="seconds to wait (default 5)")
    add("--retries", type=retry_count, default=argparse.SUPPRESS, help="resends after a timeout (default 1)")
    add("--json", action="store_true", default=argparse.SUPPRESS, help="JSON output, errors included")
    return flags


def parser(doc: str) -> argparse.ArgumentParser:
    flags = global_flags()
    top = Parser(
        prog="evsectl", description=doc, formatter_class=argparse.RawTextHelpFormatter, parents=[flags]
    )
    top.add_argument("--version", action="version", version=f"evsectl {package_version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, text: str, **options: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[flags], **options)

    add("status", "the station, its endpoints and its connectors")
    add("list", "the connectors")
    call = add(
        "call",
        "run one command",
        epilog=f"commands (evsectl help COMMAND for one in full):\n{reference.summary()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    call.add_argument("evse", help="connector index or evse_id; - for a station command")
    call.add_argument("name", metavar="COMMAND")
    call.add_argument("args", nargs="*", metavar="key=value")
    add("watch", "print publications as they come").add_argument("prefix", nargs="?", default="")
    add("help", "every command, or one in full").add_argument("topic", nargs="?", metavar="COMMAND")
    top_view = add("top", "a live table of the connectors (q quits)")
    top_view.add_argument("--once", action="store_true", help="print one frame and exit")
    top_view.add_argument("--width", type=int, help="columns (default: the terminal's)")
    top_view.add_argument(
        "--evse", type=partial(from_one, "--evse"), metavar="N", help="start the page at connector N"
    )
    top_view.add_argument(
        "--rows",
        type=partial(from_one, "--rows"),
        metavar="N",
        help="connectors per page (default: what fits the terminal)",
    )
    add("completion", "a shell completion script").add_argument("shell", choices=("bash", "zsh"))
    restart = add("restart", "restart connectors' actors on purpose (the session goes on)")
    restart.add_argument("evses", nargs="+", metavar="EVSE", help="index or evse_id, or all")
    add("reload", "re-read the station's configuration file (as SIGHUP)")
    logs = add("logs", "the station's recent log lines (-f: and then as they come)")
    logs.add_argument("-n", "--lines", type=line_count, default=20, help="how many of the newest (20)")
    logs.add_argument("-f", "--follow", action="store_true", help="go on printing new lines (Ctrl-C ends)")
    return top


def parse(doc: str, argv: list[str] | None) -> argparse.Namespace:
    options = parser(doc).parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(options, name):
            setattr(options, name, default)
    return options


def target(options: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Target:
    """The endpoints to use (see the module's doc); UsageError for a config file that is wrong."""
    configured = _from_config(options.config) if options.config is not None else None
    candidates = [
        ("--endpoint", options.endpoint, options.publish_endpoint),
        (configured.source, configured.endpoint, configured.publish_endpoint)
        if configured
        else ("", None, None),
        (f"${ENDPOINT_ENV}", environ.get(ENDPOINT_ENV), environ.get(PUBLISH_ENDPOINT_ENV)),
        ("default", DEFAULT_ENDPOINT, DEFAULT_PUBLISH_ENDPOINT),
    ]
    source, endpoint = next((source, value) for source, value, _ in candidates if value)
    publish = next(value for _, _, value in candidates if value)
    return Target(endpoint, publish, source, configured.name if configured else None)


def _from_config(path: pathlib.Path) -> Target:
    """A station's file: its endpoints, those it bound where the file says `:*`."""
    try:
        settings = load_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    endpoint, publish = settings.api.command_endpoint, settings.api.publish_endpoint
    if endpoint.endswith(":*") or publish.endswith(":*"):
        bound = _bound_endpoints(settings.state_dir)
        if bound is None:
            where = settings.state_dir / ENDPOINTS_FILE
            raise UsageError(
                f"{path}: the endpoints end in :* and {where} cannot be read (station not running?)"
            )
        endpoint, publish = bound
    return Target(endpoint, publish, f"--config {path}", settings.name)


def _bound_endpoints(state_dir: pathlib.Path) -> tuple[str, str] | None:
    try:
        record = json.loads((state_dir / ENDPOINTS_FILE).read_text())
        return str(record["command_endpoint"]), str(record["publish_endpoint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
