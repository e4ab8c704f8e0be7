"""The station's commands as the client knows them: `commands.json`, generated from the table.

The file is the `list_commands` result of this version (`python -m supervisor.api.reference
--json`); `evsectl help` and `evsectl call --help` print it without a station.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


@functools.cache
def commands() -> dict[str, dict[str, Any]]:
    """Command name → its `list_commands` entry (name, scope, args, result, only, doc)."""
    text = resources.files("supervisor.client").joinpath("commands.json").read_text(encoding="utf-8")
    return {entry["name"]: entry for entry in json.loads(text)}


def usage(entry: dict[str, Any]) -> str:
    """One line: `name key=TYPE [key=TYPE]` and the command's doc."""
    evse = "EVSE" if entry["scope"] == "evse" else "-"
    args = [_arg(name, arg) for name, arg in entry["args"].items()]
    return " ".join([evse, entry["name"], *args])


def usage_shape(arg: dict[str, Any]) -> str:
    """What goes after `key=`: the enum's values, or the type (INT, NUMBER, STR, BOOL, DATE)."""
    return "|".join(map(str, arg["enum"])) if "enum" in arg else str(arg["type"]).upper()


def _arg(name: str, arg: dict[str, Any]) -> str:
    shape = usage_shape(arg)
    return f"[{name}={shape}]" if arg.get("optional") else f"{name}={shape}"


def summary() -> str:
    """Every command with its arguments and doc, one per line (for `evsectl call --help`)."""
    lines = []
    for entry in commands().values():
        only = f" (only {entry['only']})" if entry["only"] else ""
        lines.append(f"  {usage(entry)}\n      {entry['doc']}{only}")
    return "\n".join(lines)


def details(name: str) -> str:
    """One command in full: usage, doc, each argument, the result (for `evsectl help COMMAND`)."""
    entry = commands().get(name)
    if entry is None:
        raise ValueError(f"no command {name!r}; known commands: {', '.join(commands())}")
    lines = [f"evsectl call {usage(entry)}", "", entry["doc"]]
    if entry["only"]:
        lines.append(f"Only where {entry['only']} is enabled (else forbidden).")
    if entry["args"]:
        lines.append("")
        lines.extend(f"  {name}: {_describe(arg)}" for name, arg in entry["args"].items())
    result = entry["result"]
    if "result_enum" in entry:
        result += ": " + ", ".join(entry["result_enum"])
    lines += ["", f"Result: {result}"]
    return "\n".join(lines)


def _describe(arg: dict[str, Any]) -> str:
    words = [arg["type"]]
    if "enum" in arg:
        words.append("one of " + ", ".join(map(str, arg["enum"])))
    words += [
        f"{bound} {arg[key]}" for key, bound in (("above", ">"), ("min", ">="), ("max", "<=")) if key in arg
    ]
    if arg.get("optional"):
        words.append("optional")
    text = ", ".join(words)
    return f"{text}: {arg['doc']}" if arg.get("doc") else text
