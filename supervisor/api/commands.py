"""Every command of the API in one table, and the argument checks it drives.

The table answers `list_commands` and decides what a request's `args` may hold; the
station only ever sees arguments that passed here (dates already as Unix seconds).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from supervisor.api.protocol import BadArgs, UnknownCommand, kind, show

ArgType = Literal["int", "number", "str", "bool", "date"]
Scope = Literal["station", "evse"]
Only = Literal["sim", "chaos"] | None


@dataclass(frozen=True)
class Arg:
    type: ArgType
    enum: tuple[Any, ...] | None = None
    optional: bool = False
    min: float | None = None
    max: float | None = None
    above: float | None = None  # exclusive lower bound

    def wire(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"type": self.type}
        if self.enum is not None:
            shape["enum"] = list(self.enum)
        if self.optional:
            shape["optional"] = True
        for name in ("min", "max", "above"):
            if getattr(self, name) is not None:
                shape[name] = getattr(self, name)
        return shape


@dataclass(frozen=True)
class Command:
    name: str
    scope: Scope
    result: str
    args: dict[str, Arg] = field(default_factory=dict)
    only: Only = None
    direct: bool = False  # a read that never waits on an actor: may run on the socket thread

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scope": self.scope,
            "args": {name: arg.wire() for name, arg in self.args.items()},
            "result": self.result,
            "only": self.only,
        }


CANCELLATION_REASONS = (
    "EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss",
    "Reboot", "Remote", "SoftReset", "UnlockCommand", "DeAuthorized",
)  # fmt: skip
FAULT_KINDS = (
    "rcd", "diode", "relay_weld", "overcurrent", "overdraw", "ventilation",
    "cp_short", "lock_failure", "meter_comm", "board_comm",
)  # fmt: skip
ACTORS = ("hardware", "meter", "reservation", "session")
CHAOS_HANG_MAX_S = 30.0


def _station(name: str, result: str, **args: Arg) -> Command:
    return Command(name, "station", result, args)


def _evse(name: str, result: str = "bool", only: Only = None, direct: bool = False, **args: Arg) -> Command:
    return Command(name, "evse", result, args, only, direct)


_TABLE = (
    _station("ping", "map"),
    _station("version", "map"),
    _station("list_commands", "array"),
    _station("list_evses", "array"),
    _station("snapshot", "map", prefix=Arg("str", optional=True)),
    _station("status", "map"),
    _evse("enable"),
    _evse("disable"),
    _evse("set_faulted"),
    _evse("pause_charging"),
    _evse("resume_charging"),
    _evse("cancel_charging", reason=Arg("str", enum=CANCELLATION_REASONS)),
    _evse("accept_new_session"),
    _evse(
        "reserve_now",
        "ReservationResult",
        reservation_id=Arg("int"),
        auth_token=Arg("str"),
        expiry_date=Arg("date"),
        parent_id=Arg("str", optional=True),
    ),
    _evse("cancel_reservation"),
    _evse("force_unlock"),
    _evse("set_local_max_current", "SetLocalMaxCurrentResult", max_current=Arg("number")),
    _evse(
        "switch_three_phases_while_charging",
        "SwitchThreePhasesWhileChargingResult",
        three_phases=Arg("bool"),
    ),
    _evse("get_signed_meter_value", "str"),
    _evse("authorize", auth_token=Arg("str"), parent_id=Arg("str", optional=True)),
    _evse("get_events", "map", direct=True, since=Arg("int", optional=True, min=0)),
    _evse(
        "sim_plug_in",
        only="sim",
        capacity_wh=Arg("number", optional=True, above=0),
        soc=Arg("number", optional=True, min=0, max=1),
        target_soc=Arg("number", optional=True, min=0, max=1),
        max_current_a=Arg("number", optional=True, min=0, max=80),
        phases=Arg("int", optional=True, enum=(1, 3)),
        needs_ventilation=Arg("bool", optional=True),
        stop_delay_s=Arg("number", optional=True, min=0, max=10),
    ),
    _evse("sim_unplug", only="sim"),
    _evse("sim_ev_pause", only="sim"),
    _evse("sim_ev_resume", only="sim"),
    _evse("sim_fault", only="sim", kind=Arg("str", enum=FAULT_KINDS)),
    _evse("sim_clear_fault", only="sim", kind=Arg("str", enum=FAULT_KINDS, optional=True)),
    _evse("chaos_kill", only="chaos", actor=Arg("str", enum=ACTORS)),
    _evse(
        "chaos_hang",
        only="chaos",
        actor=Arg("str", enum=ACTORS),
        seconds=Arg("number", min=0, max=CHAOS_HANG_MAX_S),
    ),
)
COMMANDS: dict[str, Command] = {command.name: command for command in _TABLE}


def list_commands() -> list[dict[str, Any]]:
    """The `list_commands` result."""
    return [command.wire() for command in _TABLE]


def lookup(name: str) -> Command:
    command = COMMANDS.get(name)
    if command is None:
        raise UnknownCommand(f"no command {show(name)}; known commands: {', '.join(COMMANDS)}")
    return command


def check_args(command: Command, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments checked against the table and converted for the station (dates → Unix s)."""
    unknown = [name for name in args if name not in command.args]
    if unknown:
        allowed = ", ".join(command.args) or "none"
        raise BadArgs(f"{command.name}: unknown argument {show(unknown[0])}; allowed arguments: {allowed}")
    checked: dict[str, Any] = {}
    for name, arg in command.args.items():
        if name in args:
            checked[name] = _check_value(command.name, name, arg, args[name])
        elif not arg.optional:
            raise BadArgs(f"{command.name}: missing argument '{name}' ({_describe(arg)})")
    return checked


def _check_value(command: str, name: str, arg: Arg, value: Any) -> Any:
    where = f"{command}: argument '{name}'"
    if not _has_type(arg.type, value):
        raise BadArgs(f"{where} must be {_describe(arg)}, got {show(value)} ({kind(value)})")
    if arg.type == "date":
        return _parse_date(where, value)
    if arg.enum is not None and value not in arg.enum:
        raise BadArgs(f"{where} must be one of {', '.join(map(str, arg.enum))}; got {show(value)}")
    if not _in_range(arg, value):
        raise BadArgs(f"{where} must be {_describe_range(arg)}, got {show(value)}")
    return value


def _has_type(type_name: ArgType, value: Any) -> bool:
    if isinstance(value, bool):
        return type_name == "bool"
    if type_name == "int":
        return isinstance(value, int)
    if type_name == "number":
        return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if type_name in ("str", "date"):
        return isinstance(value, str)
    return False


def _in_range(arg: Arg, value: Any) -> bool:
    if arg.min is not None and value < arg.min:
        return False
    if arg.max is not None and value > arg.max:
        return False
    return arg.above is None or value > arg.above


_TYPE_WORDS = {
    "int": "an integer",
    "number": "a finite number",
    "str": "a string",
    "bool": "true or false",
    "date": "an RFC 3339 date with Z or a ±hh:mm offset, e.g. 2030-01-31T12:00:00Z",
}


def _describe(arg: Arg) -> str:
    words = _TYPE_WORDS[arg.type]
    if arg.enum is not None:
        return f"{words}, one of {', '.join(map(str, arg.enum))}"
    if any(bound is not None for bound in (arg.min, arg.max, arg.above)):
        return f"{words} {_describe_range(arg)}"
    return words


def _describe_range(arg: Arg) -> str:
    parts = []
    if arg.above is not None:
        parts.append(f"> {arg.above:g}")
    if arg.min is not None:
        parts.append(f">= {arg.min:g}")
    if arg.max is not None:
        parts.append(f"<= {arg.max:g}")
    return " and ".join(parts)


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _parse_date(where: str, text: str) -> float:
    """An RFC 3339 date as Unix seconds; a date without an offset is refused."""
    wanted = _TYPE_WORDS["date"]
    if not _RFC3339.fullmatch(text):
        raise BadArgs(f"{where} must be {wanted}; got {show(text)}")
    try:
        moment = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadArgs(f"{where} is not a valid date ({exc}); got {show(text)}") from None
    return moment.timestamp()
