"""evsectl: the operator's client of the station's ZeroMQ API.

    evsectl status | list
    evsectl call EVSE COMMAND [key=value ...]     # EVSE: index, evse_id, or - for station commands
    evsectl help [COMMAND]                        # every command, or one in full
    evsectl watch [PREFIX]
    evsectl top [--once]
    evsectl restart EVSE [EVSE ...] | all         # a connector's actors, on purpose
    evsectl reload                                # re-read the station's file (as SIGHUP)
    evsectl logs [-n N] [-f]                      # the station's recent log lines; -f follows
    evsectl completion bash|zsh

Global options go anywhere on the line. The station: --endpoint / --publish-endpoint,
else --config FILE (the station's file), else $EVSECTL_ENDPOINT / $EVSECTL_PUBLISH_ENDPOINT,
else tcp://127.0.0.1:5555 and :5556.
Exit status: 0 ok (a false result too), 1 the station answered an error, 2 usage, 3 no reply.
With --json, errors too are JSON on stdout: {"ok": false, "error": {"code", "message"}}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from supervisor.client import ApiError, Client, reference
from supervisor.client.completion import cmd_completion
from supervisor.client.operations import cmd_logs, cmd_reload, cmd_restart
from supervisor.client.options import Target, UsageError, parse, target
from supervisor.client.top import cmd_top
from supervisor.client.values import call_args, check_scope
from supervisor.client.workers import workers_table


def parse_evse(text: str) -> int | str | None:
    if text == "-":
        return None
    return int(text) if text.isdigit() else text


def _print_json(value: Any) -> None:
    print(json.dumps(value, default=repr))


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 140)


def cmd_call(client: Client, options: argparse.Namespace, where: Target) -> int:
    evse = parse_evse(options.evse)
    args = call_args(options.name, options.args)
    check_scope(options.name, evse)
    result = client.call(options.name, evse, **args)
    if options.json or not isinstance(result, str | bool | int | float):
        _print_json(result) if options.json else print(json.dumps(result, indent=2, default=repr))
    else:
        print(json.dumps(result) if isinstance(result, bool) else result)
    return 0


def cmd_list(client: Client, options: argparse.Namespace, where: Target) -> int:
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


def cmd_status(client: Client, options: argparse.Namespace, where: Target) -> int:
    status = client.status()
    name = status.get("name") or where.name or "?"
    if options.json:
        _print_json(
            {**status, "name": name, "endpoint": where.endpoint, "publish_endpoint": where.publish_endpoint}
        )
        return 0
    rss_mib = status.get("rss_bytes", 0) / 2**20
    print(
        f"station {name}  commands {where.endpoint}  publications {where.publish_endpoint}  ({where.source})"
    )
    print(
        f"epoch {status.get('epoch')}  up {status.get('uptime_s', 0):.0f} s  pid {status.get('pid')}  "
        f"rss {rss_mib:.1f} MiB  cpu {status.get('cpu_percent', 0):.1f} %"
    )
    if status.get("ocpp"):
        print(_ocpp_line(status["ocpp"]))
    workers = status.get("workers") or []
    _console().print(_evse_table(status.get("evses", []), bool(workers)))
    if workers:
        _console().print(workers_table(workers))
    return 0


def _evse_table(evses: list[dict[str, Any]], with_workers: bool) -> Table:
    """One row per connector; its worker's id too with process isolation."""
    table = Table("evse", "evse_id", "state", "supervisor", "failures", "restarts", "actors")
    if with_workers:
        table.add_column("worker")
    for entry in evses:
        supervision = entry.get("supervisor") or {}
        actors = " ".join(
            f"{a.get('role')}:{a.get('state')}/g{a.get('generation')}" for a in supervision.get("actors", [])
        )
        cells = [
            str(entry.get("index")),
            str(entry.get("evse_id")),
            str(entry.get("state")),
            str(supervision.get("state")),
            str(supervision.get("failures", 0)),
            str(supervision.get("restarts")),
            actors,
        ]
        table.add_row(*cells, *([str(entry.get("worker", "-"))] if with_workers else []))
    return table


def short(value: Any, limit: int = 100) -> str:
    text = json.dumps(value, separators=(",", ":"), default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cmd_watch(client: Client, options: argparse.Namespace, where: Target) -> int:
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


EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_REPLY = 0, 1, 2, 3
Handler = Callable[[Client, argparse.Namespace, Target], int]


def cmd_help(options: argparse.Namespace) -> int:
    """Offline: the commands of this version, from the table (no station needed)."""
    print(reference.details(options.topic) if options.topic else reference.summary())
    return EXIT_OK


def fail(json_output: bool, code: str, message: str, status: int, usage: str = "") -> int:
    """Report an error: JSON on stdout with --json, else a line on stderr; the exit status."""
    if json_output:
        _print_json({"ok": False, "error": {"code": code, "message": message}})
    else:
        print(f"{usage}evsectl: {code}: {message}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        options = parse(__doc__ or "", words)
        if options.command == "help":
            return cmd_help(options)
        if options.command == "completion":
            return cmd_completion(options)
        where = target(options)
    except UsageError as exc:
        return fail("--json" in words, "usage", str(exc), EXIT_USAGE, exc.usage)
    except ValueError as exc:
        return fail("--json" in words, "usage", str(exc), EXIT_USAGE)
    client = Client(
        where.endpoint, where.publish_endpoint, timeout_s=options.timeout, retries=options.retries
    )
    try:
        return _run(client, options, where)
    finally:
        client.close()


def _run(client: Client, options: argparse.Namespace, where: Target) -> int:
    handlers: dict[str, Handler] = {"status": cmd_status, "list": cmd_list, "call": cmd_call,
                                    "watch": cmd_watch, "top": cmd_top, "restart": cmd_restart,
                                    "reload": cmd_reload, "logs": cmd_logs}  # fmt: skip
    handler = handlers[options.command]
    try:
        return handler(client, options, where)
    except ApiError as exc:
        return fail(options.json, exc.code, exc.message, EXIT_ERROR)
    except TimeoutError as exc:
        return fail(options.json, "no_reply", str(exc), EXIT_NO_REPLY)
    except UsageError as exc:
        return fail(options.json, "usage", str(exc), EXIT_USAGE, exc.usage)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `evsectl watch | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
