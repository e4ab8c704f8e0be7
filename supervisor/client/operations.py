"""evsectl's operations on a running station, as supervisorctl's: restart, reload, logs.

evsectl restart EVSE [EVSE ...] | all   # the connector's actors, on purpose
evsectl reload                          # re-read the station's file (as SIGHUP)
evsectl logs [-n N] [-f]                # the station's recent log lines; -f follows
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from typing import Any

from supervisor.client import Client
from supervisor.client.options import Target, UsageError

EXIT_OK, EXIT_ERROR = 0, 1
LOGS_PAGE = 1000  # the most lines one `logs` request asks for while following


def _print_json(value: Any) -> None:
    print(json.dumps(value, default=repr), flush=True)


def _evses(client: Client, words: list[str]) -> list[int | str]:
    """The connectors named: indexes, evse_ids, or `all` (every connector, in order)."""
    if words == ["all"]:
        return [int(entry["index"]) for entry in client.list_evses()]
    if "all" in words:
        raise UsageError("restart: `all` stands alone")
    return [int(word) if word.isdigit() else word for word in words]


def cmd_restart(client: Client, options: argparse.Namespace, where: Target) -> int:
    """Each connector's actors restarted, one after the other; a line each (or JSON)."""
    done: dict[str, bool] = {}
    for evse in _evses(client, options.evses):
        done[str(evse)] = client.restart(evse)
        if not options.json:
            print(f"evse {evse}: {'restarted' if done[str(evse)] else 'not restarted'}", flush=True)
    if options.json:
        _print_json({"restarted": done})
    return EXIT_OK if all(done.values()) else EXIT_ERROR


def cmd_reload(client: Client, options: argparse.Namespace, where: Target) -> int:
    """What the reload applied and what waits for a restart; exit 1 when the file was refused."""
    result = client.reload()
    if options.json:
        _print_json(result)
    elif "error" in result:
        print(f"evsectl: reload refused, nothing changed: {result['error']}", file=sys.stderr)
    else:
        for line in result.get("applied", []):
            print(f"applied {line}")
        if result.get("needs_restart"):
            print(f"needs a restart: {', '.join(result['needs_restart'])}")
        if not result.get("applied") and not result.get("needs_restart"):
            print("nothing changed")
    return EXIT_ERROR if "error" in result else EXIT_OK


FOLLOW_POLL_S = 0.5  # how often `logs -f` asks for what came after its cursor


def _show(line: dict[str, Any], json_output: bool) -> None:
    if json_output:
        _print_json(line)
    else:
        print(line.get("text", ""), flush=True)


def cmd_logs(client: Client, options: argparse.Namespace, where: Target) -> int:
    """The newest lines; with -f, then every line after them as the station logs it."""
    result = client.logs(lines=options.lines)
    if options.json and not options.follow:
        _print_json(result)
        return EXIT_OK
    for line in result["lines"]:
        _show(line, options.json)
    if not options.follow:
        return EXIT_OK
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends a follow, as it ends watch
        _follow(client, int(result["last_seq"]), options.json)
    return EXIT_OK


def _follow(client: Client, cursor: int, json_output: bool) -> None:
    """Ask for the lines after `cursor` until interrupted; a station started again starts at 1."""
    pause = threading.Event()
    while True:
        result = client.logs(since=cursor, lines=LOGS_PAGE)
        if int(result["last_seq"]) < cursor:  # a new station: its lines from the first
            print("evsectl: the station started again", file=sys.stderr, flush=True)
            cursor = 0
            continue
        if result.get("missed"):
            print(f"evsectl: {result['missed']} lines missed", file=sys.stderr, flush=True)
        for line in result["lines"]:
            _show(line, json_output)
        cursor = int(result["lines"][-1]["seq"]) if result["lines"] else int(result["last_seq"])
        if cursor >= int(result["last_seq"]):
            pause.wait(FOLLOW_POLL_S)
