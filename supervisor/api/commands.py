"""Every command of the API in one table, and the argument checks it drives.

Each row names a command, its scope, its typed arguments, its result, how the station
carries it out (its `route`, and for the actors the message it becomes) and a one-line
doc. The table answers `list_commands`, decides what a request's `args` may hold, routes
the request, and is the source of `docs/commands.md` and of the client's reference
(`python -m supervisor.api.reference`). The station only ever sees arguments that passed
here (dates already as Unix seconds). Enum values come from where they are decided.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from actors import messages as m
from actors.model import CANCEL_REASONS, RESERVATION_RESULTS
from drivers.sim import FAULT_KINDS
from supervisor.api.protocol import BadArgs, UnknownCommand, kind, show
from supervisor.station.assembly import ROLES

ArgType = Literal["int", "number", "str", "bool", "date"]
Scope = Literal["station", "evse"]
Only = Literal["sim", "chaos"] | None
# How a command is carried out:
#   socket   answered on the API's socket thread from what the station keeps at hand
#   station  asks the station as a whole (may take a while: not on the socket thread)
#   session  the message, made of the arguments, to the connector's session actor
#   events   a read of the connector's event log (never waits on an actor)
#   sim      the simulator's control of the same name without `sim_`, with the arguments
#   chaos    the message, made of the other arguments, told to the actor named by `actor`
#   tree     the connector's supervision as a whole (on a worker: the connector's lane waits)
#   worker   the connector's worker process (process isolation), answered by the root at once
Route = Literal["socket", "station", "session", "events", "sim", "chaos", "tree", "worker"]
ACTORS = tuple(role for role, _ in ROLES)
CHAOS_HANG_MAX_S = 30.0
LOG_LINES_KEPT = 1000  # the station's ring of recent log lines (supervisor.ops.logs.RING_LINES)


@dataclass(frozen=True)
class Arg:
    type: ArgType
    doc: str = ""
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
        if self.doc:
            shape["doc"] = self.doc
        return shape


@dataclass(frozen=True)
class Command:
    name: str
    scope: Scope
    route: Route
    result: str
    doc: str
    args: dict[str, Arg] = field(default_factory=dict)
    message: type | None = None
    only: Only = None
    result_enum: tuple[str, ...] | None = None

    def wire(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "scope": self.scope,
            "args": {name: arg.wire() for name, arg in self.args.items()},
            "result": self.result,
            "only": self.only,
            "doc": self.doc,
        }
        if self.result_enum is not None:
            entry["result_enum"] = list(self.result_enum)
        return entry


def _station(name: str, route: Route, result: str, doc: str, **args: Arg) -> Command:
    return Command(name, "station", route, result, doc, args)


def _session(
    name: str, message: type, doc: str, result: str = "bool", enum: tuple[str, ...] | None = None, **args: Arg
) -> Command:
    return Command(name, "evse", "session", result, doc, args, message, result_enum=enum)


def _sim(name: str, doc: str, **args: Arg) -> Command:
    return Command(name, "evse", "sim", "bool", doc, args, only="sim")


def _chaos(name: str, message: type, doc: str, **args: Arg) -> Command:
    actor = Arg("str", "the actor's role", enum=ACTORS)
    return Command(name, "evse", "chaos", "bool", doc, {"actor": actor, **args}, message, only="chaos")


_TOKEN = Arg("str", "the identification token (e.g. an RFID card's id)")
_PARENT = Arg("str", "the token's group (OCPP parentIdTag)", optional=True)
_FAULT = Arg("str", "the fault", enum=FAULT_KINDS)
_EVSE_FILTER = {
    "evse_from": Arg("int", "only connectors from this index on", optional=True, min=1),
    "evse_to": Arg("int", "only connectors up to this index", optional=True, min=1),
    "state": Arg("str", "only connectors in this state (e.g. Charging)", optional=True),
}
_TABLE = (
    _station("ping", "socket", "map", "The station's boot id (epoch) and uptime_s."),
    _station("version", "socket", "map", "The API version and the package version."),
    _station("list_commands", "socket", "array", "This table: every command, its arguments and result."),
    _station(
        "list_evses",
        "station",
        "array",
        "Every connector (or those the filter keeps): index, evse_id, driver, state.",
        **_EVSE_FILTER,
    ),
    _station(
        "snapshot",
        "socket",
        "map",
        "Every variable's last value and each source's seq, for late joiners.",
        prefix=Arg("str", "only topics starting with it", optional=True),
        evse_from=_EVSE_FILTER["evse_from"],
        evse_to=_EVSE_FILTER["evse_to"],
    ),
    _station(
        "status",
        "station",
        "map",
        "The process, every connector's supervision (or the filter's), the energy allocation.",
        **_EVSE_FILTER,
    ),
    _station(
        "set_station_max_current",
        "station",
        "bool",
        "The operator's station limit; kept across restarts, never above the fuse; applied when answered.",
        max_current=Arg("number", "amperes per phase", min=0),
    ),
    _session("enable", m.Enable, "Disabled → Idle (or a new session with a car plugged in)."),
    _session("disable", m.Disable, "Any state → Disabled: power off, a session cancelled (Local)."),
    _session("set_faulted", m.SetFaulted, "→ Faulted: power off, session cancelled (Other)."),
    _session("pause_charging", m.PauseCharging, "A user pause of the authorized session."),
    _session("resume_charging", m.ResumeCharging, "Lift a user pause."),
    _session(
        "cancel_charging",
        m.CancelCharging,
        "Power off and cancel the session with a reason; only a replug starts again.",
        reason=Arg("str", "SessionCancellationReason", enum=CANCEL_REASONS),
    ),
    _session("accept_new_session", m.AcceptNewSession, "Finished → Idle (require_accept_new_session)."),
    _session(
        "reserve_now",
        m.ReserveNow,
        "Reserve the connector for a token until the expiry date.",
        "ReservationResult",
        RESERVATION_RESULTS,
        reservation_id=Arg("int", "the reservation's id; the same id replaces it"),
        auth_token=_TOKEN,
        expiry_date=Arg("date", "when the reservation ends unused"),
        parent_id=_PARENT,
    ),
    _session("cancel_reservation", m.CancelReservation, "End the reservation (ReservationEnd Cancelled)."),
    _session("force_unlock", m.ForceUnlock, "Power off, cancel the session (UnlockCommand), unlock."),
    _session(
        "set_local_max_current",
        m.SetLocalMaxCurrent,
        "The connector's local current limit; below 6 A the session pauses.",
        "SetLocalMaxCurrentResult",
        ("Success", "Error_OutOfRange", "Error_Hardware"),
        max_current=Arg("number", "amperes per phase, 0 to the connector's max_current_a"),
    ),
    _session(
        "switch_three_phases_while_charging",
        m.SwitchThreePhases,
        "Switch between one and three phases during a session; answered when done.",
        "SwitchThreePhasesWhileChargingResult",
        ("Success", "Error_NotSupported", "Error_NotCharging", "Error_Hardware"),
        three_phases=Arg("bool", "true for three phases, false for one"),
    ),
    _session(
        "get_signed_meter_value",
        m.GetSignedMeterValue,
        "An OCMF reading signed by the meter: now, or the session's begin reading taken at authorization.",
        "str",
        reading=Arg(
            "str",
            '"now" (the default) or "begin" ("" outside an authorized session)',
            enum=("now", "begin"),
            optional=True,
        ),
    ),
    _session(
        "authorize",
        m.Authorize,
        "Authorize the waiting session, or pre-authorize the next plug-in.",
        auth_token=_TOKEN,
        parent_id=_PARENT,
    ),
    Command(
        "get_events",
        "evse",
        "events",
        "map",
        "The connector's session events after an event number: {events, last_event_seq}.",
        {"since": Arg("int", "an event_seq; events after it", optional=True, min=0)},
    ),
    Command(
        "restart",
        "evse",
        "tree",
        "bool",
        "Restart the connector's actors on purpose (supervisorctl restart): the session goes on, no failure.",
    ),
    _sim(
        "sim_plug_in",
        "A simulated car plugs in.",
        capacity_wh=Arg("number", "battery capacity (60000)", optional=True, above=0),
        soc=Arg("number", "state of charge at plug-in (0.2)", optional=True, min=0, max=1),
        target_soc=Arg("number", "where the car stops drawing (0.8)", optional=True, min=0, max=1),
        max_current_a=Arg("number", "the car's own limit (32)", optional=True, above=0, max=80),
        phases=Arg("int", "the car's phases (3)", optional=True, enum=(1, 3)),
        needs_ventilation=Arg("bool", "the car asks for ventilation, CP D (false)", optional=True),
        stop_delay_s=Arg(
            "number", "how long the car takes to stop drawing when asked (0)", optional=True, min=0, max=10
        ),
    ),
    _sim("sim_unplug", "The simulated car unplugs."),
    _sim("sim_ev_pause", "The car stops requesting power."),
    _sim("sim_ev_resume", "The car requests power again."),
    _sim("sim_fault", "Raise a simulated fault.", kind=_FAULT),
    _sim(
        "sim_clear_fault",
        "Clear one simulated fault, or all.",
        kind=Arg("str", "the fault (all when left out)", enum=FAULT_KINDS, optional=True),
    ),
    _chaos("chaos_kill", m.ChaosKill, "The actor fails as if its handler raised."),
    _chaos(
        "chaos_hang",
        m.ChaosHang,
        "The actor's handler blocks this long.",
        seconds=Arg("number", "how long", min=0, max=CHAOS_HANG_MAX_S),
    ),
    Command(
        "chaos_hang_supervisor",
        "evse",
        "chaos",
        "bool",
        "The connector's supervisor stops deciding this long: the station's health check fails.",
        {"seconds": Arg("number", "how long", min=0, max=CHAOS_HANG_MAX_S)},
        m.ChaosHang,
        only="chaos",
    ),
    Command(
        "chaos_kill_worker",
        "evse",
        "worker",
        "bool",
        "SIGKILL of the connector's worker (isolation: process): it is restarted, its connectors carry on.",
        only="chaos",
    ),
    Command(
        "chaos_stop_worker",
        "evse",
        "worker",
        "bool",
        "SIGSTOP of the connector's worker, SIGCONT after this long: its missed heartbeats get it replaced.",
        {"seconds": Arg("number", "how long", min=0, max=CHAOS_HANG_MAX_S)},
        only="chaos",
    ),
    _station(
        "logs",
        "socket",
        "map",
        "The station's recent log lines, newest or after a cursor: {lines: [{seq, ts, level, logger, text}], "
        "last_seq, missed}.",
        lines=Arg(
            "int", f"at most this many (100; the station keeps {LOG_LINES_KEPT})", optional=True, min=1
        ),
        since=Arg("int", "a line's seq: the lines after it, oldest first (to follow)", optional=True, min=0),
    ),
    _station(
        "reload",
        "station",
        "map",
        "Re-read the configuration file, as SIGHUP: {applied, needs_restart}, or error when refused.",
    ),
)
COMMANDS: dict[str, Command] = {command.name: command for command in _TABLE}
READS = frozenset(
    {
        "ping",
        "version",
        "list_commands",
        "list_evses",
        "snapshot",
        "status",
        "get_events",
        "get_signed_meter_value",
        "logs",
    }
)  # every other command may change something: the station logs each one that succeeded


def list_commands() -> list[dict[str, Any]]:
    """The `list_commands` result."""
    return [command.wire() for command in _TABLE]


def lookup(name: str) -> Command:
    command = COMMANDS.get(name)
    if command is None:
        raise UnknownCommand(f"no command {show(name)}; known commands: {', '.join(COMMANDS)}")
    return command


def message_of(command: Command, args: dict[str, Any]) -> object:
    """The actor message a checked request becomes (the chaos target `actor` is an address)."""
    assert command.message is not None, command.name
    fields = {name: value for name, value in args.items() if name != "actor" or command.route != "chaos"}
    return command.message(**fields)


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
            raise BadArgs(f"{command.name}: missing argument '{name}' ({describe(arg)})")
    return checked


def _check_value(command: str, name: str, arg: Arg, value: Any) -> Any:
    where = f"{command}: argument '{name}'"
    if not _has_type(arg.type, value):
        raise BadArgs(f"{where} must be {describe(arg)}, got {show(value)} ({kind(value)})")
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


TYPE_WORDS = {
    "int": "an integer",
    "number": "a finite number",
    "str": "a string",
    "bool": "true or false",
    "date": "an RFC 3339 date with Z or a ±hh:mm offset, e.g. 2030-01-31T12:00:00Z",
}


def describe(arg: Arg) -> str:
    """What an argument must be, in words (for errors and the reference)."""
    words = TYPE_WORDS[arg.type]
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
    wanted = TYPE_WORDS["date"]
    if not _RFC3339.fullmatch(text):
        raise BadArgs(f"{where} must be {wanted}; got {show(text)}")
    try:
        moment = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadArgs(f"{where} is not a valid date ({exc}); got {show(text)}") from None
    return moment.timestamp()
