"""The charging state machine against evse-manager.md: states, events, commands, board errors.

Pure tests: every model is reached by stepping real messages from `Model.initial`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from actors.charging import Step, hardware_output, state_of, step
from actors.messages import (
    AcceptNewSession,
    Authorize,
    BoardReport,
    CancelCharging,
    Disable,
    Enable,
    ForceUnlock,
    PauseCharging,
    ResumeCharging,
    SetFaulted,
    SetLocalMaxCurrent,
)
from actors.model import (
    Emit,
    EndReservation,
    Env,
    Error,
    HardwareOutput,
    Model,
    Output,
    Reservation,
    State,
    Unlock,
)
from actors.settings import ConnectorSettings
from drivers.base import BoardStatus, CPState, PilotSignal, duty_cycle_percent

T0 = 1000.0
TOKEN = "TOKEN-1"
OTHER = "TOKEN-2"
SETTINGS = ConnectorSettings(index=1, evse_id="X", max_current_a=32.0)
RESERVATION = Reservation(reservation_id=7, auth_token="RES-TOKEN", expiry_time=T0 + 3600, parent_id="P")
UNPLUGGED = BoardStatus(cp=CPState.A, plugged=False, relais_on=False, three_phases=True, locked=False)


# --- a connector driven by messages ------------------------------------------------------------


@dataclass
class Machine:
    """One connector's model, stepped with real messages; the reservation as the actor keeps it."""

    settings: ConnectorSettings = SETTINGS
    reservation: Reservation | None = None
    now: float = T0
    status: BoardStatus = UNPLUGGED
    uuids: list[str] = field(default_factory=list)
    model: Model = field(init=False)

    def __post_init__(self) -> None:
        self.model = Model.initial(self.settings)

    def env(self) -> Env:
        return Env(self.settings, self.reservation, self.now, self._new_uuid)

    def _new_uuid(self) -> str:
        self.uuids.append(f"uuid-{len(self.uuids) + 1}")
        return self.uuids[-1]

    def send(self, message: object) -> Step:
        result = step(self.model, message, self.env())
        self.model = result.model
        if any(isinstance(output, EndReservation) for output in result.outputs):
            self.reservation = None
        return result

    def board(self, **changes: Any) -> Step:
        """Report the board status with these fields changed (faults persist until reported cleared)."""
        self.status = replace(self.status, **changes)
        return self.send(BoardReport(self.status))

    def plug(self, cp: CPState = CPState.B) -> Step:
        return self.board(plugged=True, cp=cp)

    def unplug(self) -> Step:
        return self.board(plugged=False, cp=CPState.A, currents_a=(0.0, 0.0, 0.0))

    @property
    def state(self) -> State:
        return state_of(self.model, self.env())

    @property
    def output(self) -> HardwareOutput:
        return hardware_output(self.model, self.env())

    @property
    def session_uuid(self) -> str:
        return self.model.session.uuid if self.model.session is not None else ""


def describe(output: Output) -> str:
    """An output as the tables of the spec name it: `Event`, `Event(reason or error)`."""
    if isinstance(output, Emit):
        detail = output.reason or output.error
        return f"{output.event}({detail})" if detail else str(output.event)
    if isinstance(output, EndReservation):
        return f"EndReservation({output.reason})"
    assert isinstance(output, Unlock)
    return "Unlock"


def said(result: Step) -> list[str]:
    return [describe(output) for output in result.outputs]


def emits(result: Step) -> list[Emit]:
    return [output for output in result.outputs if isinstance(output, Emit)]


# --- actions: steps that tests compose ---------------------------------------------------------------

Action = Callable[[Machine], Step]


def send(message: object) -> Action:
    return lambda m: m.send(message)


def board(**changes: Any) -> Action:
    return lambda m: m.board(**changes)


def plug(cp: CPState = CPState.B) -> Action:
    return lambda m: m.plug(cp)


def unplug() -> Action:
    return lambda m: m.unplug()


def reserve(reservation: Reservation = RESERVATION) -> Action:
    """The reservation actor accepted a reservation (the machine only reads it)."""

    def action(m: Machine) -> Step:
        m.reservation = reservation
        return Step(m.model)

    return action


def later(seconds: float) -> Action:
    def action(m: Machine) -> Step:
        m.now += seconds
        return Step(m.model)

    return action


def run(m: Machine, actions: tuple[Action, ...]) -> Step:
    """Apply the actions in order; the result of the last one."""
    result = Step(m.model)
    for action in actions:
        result = action(m)
    return result


# --- reaching each state -------------------------------------------------------------------------

ERROR_REPORTS: dict[Error, dict[str, Any]] = {
    Error.Car: {"cp": CPState.E},
    Error.CarDiodeFault: {"diode_fault": True},
    Error.VentilationNotAvailable: {"cp": CPState.D},
    Error.RCD: {"rcd_tripped": True},
    Error.Relais: {"relay_welded": True},
    Error.OverCurrent: {"overcurrent_tripped": True},
}
WAITING = (plug(),)
PAUSED_EV = (*WAITING, send(Authorize(TOKEN)))
CHARGING = (*PAUSED_EV, board(cp=CPState.C))
RECIPES: dict[str, tuple[Action, ...]] = {
    "Disabled": (send(Disable()),),
    "Idle": (),
    "WaitingForAuthentication": WAITING,
    "ChargingPausedEV": PAUSED_EV,
    "Charging": CHARGING,
    "ChargingPausedEVSE/user": (*CHARGING, send(PauseCharging())),
    "ChargingPausedEVSE/budget": (*CHARGING, send(SetLocalMaxCurrent(0.0))),
    "ChargingPausedEVSE/cancelled": (*CHARGING, send(CancelCharging("Remote"))),
    "Finished": (*CHARGING, unplug()),
    **{f"Error/{error}": (*CHARGING, board(**report)) for error, report in ERROR_REPORTS.items()},
    "Faulted": (send(SetFaulted()),),
    "Disabled/session": (*CHARGING, send(Disable())),
    "Faulted/session": (*CHARGING, send(SetFaulted())),
}
ERROR_STATES = [f"Error/{error}" for error in ERROR_REPORTS]
SESSION_STATES = [
    "WaitingForAuthentication",
    "ChargingPausedEV",
    "Charging",
    "ChargingPausedEVSE/user",
    "ChargingPausedEVSE/budget",
    "ChargingPausedEVSE/cancelled",
    *ERROR_STATES,
    "Disabled/session",
    "Faulted/session",
]


def build(name: str, **settings: Any) -> Machine:
    """A connector in the named state; Finished comes with `require_accept_new_session`."""
    if name == "Finished":
        settings.setdefault("require_accept_new_session", True)
    m = Machine(settings=replace(SETTINGS, **settings))
    run(m, RECIPES[name])
    return m


def state_named(name: str) -> State:
    return State(name.split("/")[0])


# --- connector states: CP output and power ----------------------------------------------------------

STATE_TABLE = [
    ("Disabled", "X1", False),
    ("Idle", "X1", False),
    ("WaitingForAuthentication", "X1", False),
    ("ChargingPausedEV", "PWM", True),
    ("Charging", "PWM", True),
    ("ChargingPausedEVSE/user", "X1", False),
    ("ChargingPausedEVSE/budget", "X1", False),
    ("ChargingPausedEVSE/cancelled", "X1", False),
    ("Finished", "X1", False),
    *[(name, "X1", False) for name in ERROR_STATES],
    ("Faulted", "F", False),
    ("Disabled/session", "X1", False),
    ("Faulted/session", "F", False),
]


@pytest.mark.parametrize(("name", "pilot", "power"), STATE_TABLE)
def test_state_table(name: str, pilot: str, power: bool) -> None:
    m = build(name)
    assert m.state is state_named(name)
    assert (m.output.pilot.mode, m.output.power_allowed) == (pilot, power)


def test_disabled_at_start() -> None:
    m = Machine(settings=replace(SETTINGS, enabled_at_start=False))
    assert m.state is State.Disabled
    assert m.output == HardwareOutput(PilotSignal.x1(), False, False)


@pytest.mark.parametrize("current_a", [6.0, 6.5, 10.0, 13.0, 16.0, 20.0, 25.0, 32.0, 40.0, 51.0])
@pytest.mark.parametrize("cp", [CPState.B, CPState.C])
def test_pwm_duty_for_the_allowed_current(current_a: float, cp: CPState) -> None:
    m = build("ChargingPausedEV", max_current_a=80.0)
    m.board(cp=cp)
    assert m.send(SetLocalMaxCurrent(current_a)).reply == "Success"
    assert m.output.pilot.mode == "PWM"
    assert m.output.pilot.duty_percent == pytest.approx(current_a / 0.6)
    assert m.output.power_allowed


@pytest.mark.parametrize("current_a", [52.0, 63.0, 80.0])
def test_pwm_duty_above_51_amperes(current_a: float) -> None:
    m = build("Charging", max_current_a=80.0)
    m.send(SetLocalMaxCurrent(current_a))
    assert m.output.pilot.duty_percent == pytest.approx(current_a / 2.5 + 64.0)


def test_pwm_at_the_hardware_maximum_by_default() -> None:
    m = build("Charging", max_current_a=16.0)
    assert m.output.pilot == PilotSignal("PWM", duty_cycle_percent(16.0))


# --- what publishes which events, in order -------------------------------------------------------------

RESERVED_PLUG = (reserve(), plug())
EVENT_TABLE: list[tuple[str, dict[str, Any], tuple[Action, ...], list[str]]] = [
    ("plug-in, no authorization", {}, WAITING, ["SessionStarted", "AuthRequired"]),
    (
        "plug-in, pre-authorized",
        {},
        (send(Authorize(TOKEN)), plug()),
        ["SessionStarted", "ChargingStarted", "ChargingPausedEV"],
    ),
    (
        "plug-in, pre-authorized for the reservation",
        {},
        (reserve(), send(Authorize(RESERVATION.auth_token)), plug()),
        ["SessionStarted", "EndReservation(UsedToStartCharging)", "ChargingStarted", "ChargingPausedEV"],
    ),
    (
        "plug-in, pre-authorized, no budget",
        {},
        (send(SetLocalMaxCurrent(0.0)), send(Authorize(TOKEN)), plug()),
        ["SessionStarted", "ChargingStarted", "ChargingPausedEVSE"],
    ),
    (
        "plug-in, free_charging",
        {"free_charging": True},
        WAITING,
        ["SessionStarted", "ChargingStarted", "ChargingPausedEV"],
    ),
    ("authorize while waiting", {}, PAUSED_EV, ["ChargingStarted", "ChargingPausedEV"]),
    (
        "authorize while waiting, reserved",
        {},
        (*RESERVED_PLUG, send(Authorize(RESERVATION.auth_token))),
        ["EndReservation(UsedToStartCharging)", "ChargingStarted", "ChargingPausedEV"],
    ),
    (
        "authorize while waiting, reserved, by parent_id",
        {},
        (*RESERVED_PLUG, send(Authorize(OTHER, "P"))),
        ["EndReservation(UsedToStartCharging)", "ChargingStarted", "ChargingPausedEV"],
    ),
    (
        "authorize while waiting, no budget",
        {},
        (send(SetLocalMaxCurrent(5.9)), *PAUSED_EV),
        ["ChargingStarted", "ChargingPausedEVSE"],
    ),
    ("car starts drawing, the first time", {}, CHARGING, ["ChargingResumed"]),
    ("car stops drawing", {}, (*CHARGING, board(cp=CPState.B)), ["ChargingPausedEV"]),
    ("car draws again", {}, (*CHARGING, board(cp=CPState.B), board(cp=CPState.C)), ["ChargingResumed"]),
    ("pause_charging", {}, (*CHARGING, send(PauseCharging())), ["ChargingPausedEVSE"]),
    ("pause_charging, car paused", {}, (*PAUSED_EV, send(PauseCharging())), ["ChargingPausedEVSE"]),
    ("budget below 6 A", {}, (*CHARGING, send(SetLocalMaxCurrent(5.9))), ["ChargingPausedEVSE"]),
    (
        "resume_charging, car draws",
        {},
        (*CHARGING, send(PauseCharging()), send(ResumeCharging())),
        ["ChargingResumed"],
    ),
    (
        "resume_charging, car does not draw",
        {},
        (*PAUSED_EV, send(PauseCharging()), send(ResumeCharging())),
        ["ChargingPausedEV"],
    ),
    (
        "budget back to 6 A, car draws",
        {},
        (*CHARGING, send(SetLocalMaxCurrent(0.0)), send(SetLocalMaxCurrent(6.0))),
        ["ChargingResumed"],
    ),
    (
        "budget back to 6 A, car does not draw",
        {},
        (*PAUSED_EV, send(SetLocalMaxCurrent(0.0)), send(SetLocalMaxCurrent(6.0))),
        ["ChargingPausedEV"],
    ),
    (
        "cancel_charging",
        {},
        (*CHARGING, send(CancelCharging("EmergencyStop"))),
        ["SessionCancelled(EmergencyStop)"],
    ),
    (
        "cancel_charging while waiting",
        {},
        (*WAITING, send(CancelCharging("DeAuthorized"))),
        ["SessionCancelled(DeAuthorized)"],
    ),
    (
        "force_unlock during a session",
        {},
        (*CHARGING, send(ForceUnlock())),
        ["SessionCancelled(UnlockCommand)", "Unlock"],
    ),
    ("disable, idle", {}, (send(Disable()),), ["Disabled"]),
    ("disable, session", {}, (*CHARGING, send(Disable())), ["SessionCancelled(Local)", "Disabled"]),
    ("disable, reserved", {}, (reserve(), send(Disable())), ["Disabled", "EndReservation(Cancelled)"]),
    (
        "disable, waiting on a reserved connector",
        {},
        (*RESERVED_PLUG, send(Disable())),
        ["SessionCancelled(Local)", "Disabled", "EndReservation(Cancelled)"],
    ),
    (
        "disable, cancelled session",
        {},
        (*CHARGING, send(CancelCharging("Remote")), send(Disable())),
        ["Disabled"],
    ),
    ("set_faulted, idle", {}, (send(SetFaulted()),), ["PermanentFault"]),
    (
        "set_faulted, session",
        {},
        (*CHARGING, send(SetFaulted())),
        ["SessionCancelled(Other)", "PermanentFault"],
    ),
    (
        "set_faulted, reserved",
        {},
        (reserve(), send(SetFaulted())),
        ["PermanentFault", "EndReservation(Cancelled)"],
    ),
    (
        "set_faulted, waiting on a reserved connector",
        {},
        (*RESERVED_PLUG, send(SetFaulted())),
        ["SessionCancelled(Other)", "PermanentFault", "EndReservation(Cancelled)"],
    ),
    ("enable, no car", {"enabled_at_start": False}, (send(Enable()),), ["Enabled"]),
    (
        "enable, car plugged in",
        {"enabled_at_start": False},
        (plug(), send(Enable())),
        ["Enabled", "SessionStarted", "AuthRequired"],
    ),
    ("board error", {}, (*CHARGING, board(rcd_tripped=True)), ["Error(RCD)"]),
    (
        "board error clears",
        {},
        (*CHARGING, board(rcd_tripped=True), board(cp=CPState.B), board(rcd_tripped=False)),
        [],
    ),
    ("board error while idle", {}, (board(relay_welded=True),), ["Error(Relais)"]),
    ("unplug while charging", {}, (*CHARGING, unplug()), ["SessionFinished"]),
    ("unplug while waiting", {}, (*WAITING, unplug()), ["SessionFinished"]),
    (
        "authorize refused by a reservation",
        {},
        (*RESERVED_PLUG, send(Authorize(OTHER))),
        ["ReservationAuthtokenMismatch"],
    ),
    (
        "pre-authorization refused by a reservation",
        {},
        (reserve(), send(Authorize(OTHER, "Q"))),
        ["ReservationAuthtokenMismatch"],
    ),
]


@pytest.mark.parametrize(
    ("settings", "actions", "expected"),
    [pytest.param(s, a, e, id=name) for name, s, a, e in EVENT_TABLE],
)
def test_events_in_order(settings: dict[str, Any], actions: tuple[Action, ...], expected: list[str]) -> None:
    m = Machine(settings=replace(SETTINGS, **settings))
    assert said(run(m, actions)) == expected


# --- commands in every state where their result is specified ---------------------------------------------

_SESSION_CANCELLED_LOCAL = ["SessionCancelled(Local)", "Disabled"]
_SESSION_CANCELLED_OTHER = ["SessionCancelled(Other)", "PermanentFault"]
_AUTHORIZED = [
    "ChargingPausedEV",
    "Charging",
    "ChargingPausedEVSE/user",
    "ChargingPausedEVSE/budget",
]
COMMAND_TABLE: list[tuple[str, object, object, list[str], str]] = [
    # enable
    ("Disabled", Enable(), True, ["Enabled"], "Idle"),
    *[
        (name, Enable(), True, [], name)
        for name in ["Idle", "WaitingForAuthentication", "Charging", "Finished"]
    ],
    *[(name, Enable(), True, [], name) for name in ERROR_STATES],
    ("Faulted", Enable(), False, [], "Faulted"),
    ("Faulted/session", Enable(), False, [], "Faulted"),
    ("Disabled/session", Enable(), True, ["Enabled"], "ChargingPausedEVSE"),
    # disable
    ("Disabled", Disable(), True, [], "Disabled"),
    ("Idle", Disable(), True, ["Disabled"], "Disabled"),
    ("Finished", Disable(), True, ["Disabled"], "Disabled"),
    ("Faulted", Disable(), True, ["Disabled"], "Disabled"),
    ("Faulted/session", Disable(), True, ["Disabled"], "Disabled"),
    ("ChargingPausedEVSE/cancelled", Disable(), True, ["Disabled"], "Disabled"),
    *[
        (name, Disable(), True, _SESSION_CANCELLED_LOCAL, "Disabled")
        for name in ["WaitingForAuthentication", *_AUTHORIZED]
    ],
    *[(name, Disable(), True, _SESSION_CANCELLED_LOCAL, "Disabled") for name in ERROR_STATES],
    # set_faulted
    ("Faulted", SetFaulted(), True, [], "Faulted"),
    ("Faulted/session", SetFaulted(), True, [], "Faulted"),
    *[(name, SetFaulted(), True, ["PermanentFault"], "Faulted") for name in ["Disabled", "Idle", "Finished"]],
    ("Disabled/session", SetFaulted(), True, ["PermanentFault"], "Faulted"),
    ("ChargingPausedEVSE/cancelled", SetFaulted(), True, ["PermanentFault"], "Faulted"),
    *[
        (name, SetFaulted(), True, _SESSION_CANCELLED_OTHER, "Faulted")
        for name in ["WaitingForAuthentication", *_AUTHORIZED]
    ],
    *[(name, SetFaulted(), True, _SESSION_CANCELLED_OTHER, "Faulted") for name in ERROR_STATES],
    # pause_charging
    ("Charging", PauseCharging(), True, ["ChargingPausedEVSE"], "ChargingPausedEVSE"),
    ("ChargingPausedEV", PauseCharging(), True, ["ChargingPausedEVSE"], "ChargingPausedEVSE"),
    ("ChargingPausedEVSE/user", PauseCharging(), True, [], "ChargingPausedEVSE"),
    ("ChargingPausedEVSE/budget", PauseCharging(), True, [], "ChargingPausedEVSE"),
    *[
        (name, PauseCharging(), False, [], name)
        for name in ["Disabled", "Idle", "WaitingForAuthentication", "Finished", "Faulted"]
    ],
    # resume_charging
    ("ChargingPausedEVSE/user", ResumeCharging(), True, ["ChargingResumed"], "Charging"),
    *[
        (name, ResumeCharging(), False, [], name)
        for name in [
            "ChargingPausedEV",
            "Charging",
            "ChargingPausedEVSE/budget",
            "ChargingPausedEVSE/cancelled",
            "Disabled",
            "Idle",
            "WaitingForAuthentication",
            "Finished",
            "Faulted",
        ]
    ],
    # cancel_charging
    *[
        (name, CancelCharging("Remote"), True, ["SessionCancelled(Remote)"], "ChargingPausedEVSE")
        for name in ["WaitingForAuthentication", *_AUTHORIZED]
    ],
    *[(name, CancelCharging("Remote"), True, ["SessionCancelled(Remote)"], "Error") for name in ERROR_STATES],
    *[
        (name, CancelCharging("Remote"), False, [], name)
        for name in [
            "Idle",
            "Finished",
            "Disabled",
            "Faulted",
            "ChargingPausedEVSE/cancelled",
            "Disabled/session",
            "Faulted/session",
        ]
    ],
    # accept_new_session
    ("Finished", AcceptNewSession(), True, [], "Idle"),
    ("Idle", AcceptNewSession(), True, [], "Idle"),
    *[
        (name, AcceptNewSession(), False, [], name)
        for name in [
            "Disabled",
            "WaitingForAuthentication",
            *_AUTHORIZED,
            "ChargingPausedEVSE/cancelled",
            "Error/RCD",
            "Faulted",
        ]
    ],
    # authorize
    ("Idle", Authorize(TOKEN), True, [], "Idle"),
    (
        "WaitingForAuthentication",
        Authorize(TOKEN),
        True,
        ["ChargingStarted", "ChargingPausedEV"],
        "ChargingPausedEV",
    ),
    *[(name, Authorize(TOKEN), True, [], name) for name in _AUTHORIZED],
    *[(name, Authorize(OTHER), False, [], name) for name in _AUTHORIZED],
    *[
        (name, Authorize(TOKEN), False, [], name)
        for name in [
            "Disabled",
            "Faulted",
            *ERROR_STATES,
            "ChargingPausedEVSE/cancelled",
            "Disabled/session",
            "Faulted/session",
        ]
    ],
]


@pytest.mark.parametrize(
    ("name", "command", "reply", "events", "after"),
    [pytest.param(*row, id=f"{type(row[1]).__name__}-{row[0]}") for row in COMMAND_TABLE],
)
def test_command(name: str, command: object, reply: object, events: list[str], after: str) -> None:
    m = build(name)
    result = m.send(command)
    assert result.reply == reply
    assert said(result) == events
    assert m.state is state_named(after)
