"""`evsectl call`: key=value words converted by the command table's argument types.

A `str` argument keeps its text as it is (a card token `1234` stays a string); `int`,
`number` and `bool` are parsed; a `date` is sent as its text (RFC 3339). Every missing
argument is named at once; an unknown command or argument gets the nearest name.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

from supervisor.client import reference
from supervisor.client.options import UsageError


def nearest(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def command_entry(name: str) -> dict[str, Any]:
    entry = reference.commands().get(name)
    if entry is None:
        raise UsageError(
            f"no command {name!r}{nearest(name, reference.commands())} (evsectl help lists them)"
        )
    return entry


def convert(text: str, arg: dict[str, Any], where: str) -> Any:
    """One value by its argument's type; UsageError saying what it must be."""
    kind = arg["type"]
    if kind in ("str", "date"):
        return text
    if kind == "bool" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind == "int" and text.lstrip("-").isdigit():
        return int(text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return int(number) if number.is_integer() and "." not in text else number
    words = {"bool": "true or false", "int": "an integer", "number": "a finite number"}[kind]
    raise UsageError(f"{where} must be {words}, got {text!r}")


def call_args(name: str, pairs: Sequence[str]) -> dict[str, Any]:
    """The arguments of `evsectl call EVSE name key=value ...`, checked against the table."""
    entry = command_entry(name)
    table: dict[str, dict[str, Any]] = entry["args"]
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"arguments are key=value, got {pair!r}")
        if key not in table:
            allowed = ", ".join(table) or "none"
            raise UsageError(f"{name}: no argument {key!r}{nearest(key, table)}; arguments: {allowed}")
        args[key] = convert(text, table[key], f"{name}: argument {key!r}")
    missing = [key for key, arg in table.items() if not arg.get("optional") and key not in args]
    if missing:
        shapes = " ".join(f"{key}={reference.usage_shape(table[key])}" for key in missing)
        raise UsageError(f"{name}: missing {', '.join(missing)} ({shapes}); see evsectl help {name}")
    return args


def check_scope(name: str, evse: int | str | None) -> None:
    """A station command takes `-`, a connector command a connector."""
    scope = command_entry(name)["scope"]
    if scope == "station" and evse is not None:
        raise UsageError(f"{name} is a station command: evsectl call - {name}")
    if scope == "evse" and evse is None:
        raise UsageError(f"{name} is a connector command: evsectl call EVSE {name} (EVSE: index or evse_id)")
