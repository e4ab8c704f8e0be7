"""The charging state machine against evse-manager.md: states, events, commands, board errors.

Pure tests: every model is reached by stepping real messages from `Model.initial`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from actors.charging import Step, hardware_output, set_faulted, state_of, step, transition_event
from actors.derived import reservation_verdict
from actors.messages import (
    AcceptNewSession,
    Authorize,
    BoardReport,
    CancelCharging,
    CancelReservation,
    Disable,
    Enable,
    ForceUnlock,
    GetSignedMeterValue,
    PauseCharging,
    PhasesSwitched,
    ReserveNow,
    ResumeCharging,
    SetFaulted,
    SetLocalMaxCurrent,
    SwitchThreePhases,
    Tick,
)
from actors.model import (
    BoardAnswer,
    Emit,
    EndReservation,
    Env,
    Error,
    HardwareOutput,
    LockAnswer,
    MeterAnswer,
    Model,
    Output,
    Pending,
    PhaseSwitch,
    Reservation,
    SessionEvent,
    StartReservation,
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
APPLIED = BoardAnswer(ok="Success", failed="Error_Hardware")  # set_local_max_current in range
DISABLED = BoardAnswer(ok=True, failed=False)  # disable that changes something
UNPLUGGED = BoardStatus(cp=CPState.A, plugged=False, relais_on=False, three_phases=True, locked=False)


# --- a connector driven by messages ---------------------------------------------------------------


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
        return Env(self.settings, self.reservation, self.now, self._new_uuid, self.now)

    def _new_uuid(self) -> str:
        self.uuids.append(f"uuid-{len(self.uuids) + 1}")
        return self.uuids[-1]

    def send(self, message: object) -> Step:
        result = step(self.model, message, self.env())
        self.model = result.model
        for output in result.outputs:  # as the reservation actor carries them out
            if isinstance(output, EndReservation):
                self.reservation = None
            elif isinstance(output, StartReservation):
                self.reservation = output.reservation
        return result

    def board(self, **changes: Any) -> Step:
        """Report the board status with these fields changed (faults persist until reported cleared)."""
        self.status = replace(self.status, **changes)
        return self.send(BoardReport(self.status))

    def plug(self, cp: CPState = CPState.B) -> Step:
        return self.board(plugged=True, cp=cp)

    def unplug(self) -> Step:
        return self.board(plugged=False, cp=CPState.A, currents_a=(0.0, 0.0, 0.0))

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
    if isinstance(output, StartReservation):
        return f"StartReservation({output.reservation.reservation_id})"
    if isinstance(output, PhaseSwitch):
        return f"PhaseSwitch({'three' if output.three_phases else 'one'})"
    assert isinstance(output, Unlock)
    return "Unlock"


def said(result: Step) -> list[str]:
    return [describe(output) for output in result.outputs]


def emits(result: Step) -> list[Emit]:
    return [output for output in result.outputs if isinstance(output, Emit)]


# --- actions: steps that tests compose ------------------------------------------------------------

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


# --- reaching each state --------------------------------------------------------------------------

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


# --- connector states: CP output and power --------------------------------------------------------

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
    assert m.state() is state_named(name)
    assert (m.output.pilot.mode, m.output.power_allowed) == (pilot, power)


def test_disabled_at_start() -> None:
    m = Machine(settings=replace(SETTINGS, enabled_at_start=False))
    assert m.state() is State.Disabled
    assert m.output == HardwareOutput(PilotSignal.x1(), False, False)


@pytest.mark.parametrize("current_a", [6.0, 6.5, 10.0, 13.0, 16.0, 20.0, 25.0, 32.0, 40.0, 51.0])
@pytest.mark.parametrize("cp", [CPState.B, CPState.C])
def test_pwm_duty_for_the_allowed_current(current_a: float, cp: CPState) -> None:
    m = build("ChargingPausedEV", max_current_a=80.0)
    m.board(cp=cp)
    assert m.send(SetLocalMaxCurrent(current_a)).reply == APPLIED
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


# --- what publishes which events, in order --------------------------------------------------------

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
        "plug-in after the pre-authorization expired",
        {},
        (send(Authorize(TOKEN)), later(60.5), plug()),
        ["SessionStarted", "AuthRequired"],
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


# --- commands in every state where their result is specified --------------------------------------

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
    ("Idle", Disable(), DISABLED, ["Disabled"], "Disabled"),
    ("Finished", Disable(), DISABLED, ["Disabled"], "Disabled"),
    ("Faulted", Disable(), DISABLED, ["Disabled"], "Disabled"),
    ("Faulted/session", Disable(), DISABLED, ["Disabled"], "Disabled"),
    ("ChargingPausedEVSE/cancelled", Disable(), DISABLED, ["Disabled"], "Disabled"),
    *[
        (name, Disable(), DISABLED, _SESSION_CANCELLED_LOCAL, "Disabled")
        for name in ["WaitingForAuthentication", *_AUTHORIZED]
    ],
    *[(name, Disable(), DISABLED, _SESSION_CANCELLED_LOCAL, "Disabled") for name in ERROR_STATES],
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
    assert m.state() is state_named(after)


# --- authorization --------------------------------------------------------------------------------


@pytest.mark.parametrize(("wait_s", "authorized"), [(0.0, True), (59.9, True), (60.1, False), (600.0, False)])
def test_pre_authorization_lasts_auth_timeout_s(wait_s: float, authorized: bool) -> None:
    m = Machine()
    assert m.send(Authorize(TOKEN)).reply is True
    m.now += wait_s
    started = said(m.plug())
    assert started == (
        ["SessionStarted", "ChargingStarted", "ChargingPausedEV"]
        if authorized
        else ["SessionStarted", "AuthRequired"]
    )


@pytest.mark.parametrize("timeout_s", [5.0, 120.0])
def test_pre_authorization_follows_the_configured_timeout(timeout_s: float) -> None:
    m = Machine(settings=replace(SETTINGS, auth_timeout_s=timeout_s))
    m.send(Authorize(TOKEN))
    m.now += timeout_s - 0.1
    assert m.send(Tick()).outputs == ()
    assert said(m.plug())[-1] == "ChargingPausedEV"
    m.unplug()
    m.send(Authorize(TOKEN))
    m.now += timeout_s + 0.1
    assert said(m.plug()) == ["SessionStarted", "AuthRequired"]


def test_an_expired_pre_authorization_is_dropped_on_tick() -> None:
    m = Machine()
    m.send(Authorize(TOKEN))
    m.now += 61.0
    assert m.send(Tick()).outputs == ()
    assert m.model.pre_auth is None
    assert said(m.plug()) == ["SessionStarted", "AuthRequired"]


def test_a_newer_pre_authorization_replaces_the_older() -> None:
    m = Machine()
    m.send(Authorize(TOKEN))
    m.now += 30.0
    m.send(Authorize(OTHER))
    m.now += 50.0  # the first one expired, the second one not
    assert said(m.plug())[-1] == "ChargingPausedEV"
    assert m.send(Authorize(OTHER)).reply is True
    assert m.send(Authorize(TOKEN)).reply is False
    assert m.model.session is not None and m.model.session.token == OTHER


def test_pre_authorization_is_dropped_by_disable() -> None:
    m = Machine()
    m.send(Authorize(TOKEN))
    m.send(Disable())
    m.send(Enable())
    assert said(m.plug()) == ["SessionStarted", "AuthRequired"]


@pytest.mark.parametrize(
    ("token", "parent_id", "accepted"),
    [
        (RESERVATION.auth_token, None, True),
        (RESERVATION.auth_token, "Q", True),
        (OTHER, "P", True),
        (OTHER, None, False),
        (OTHER, "Q", False),
    ],
)
def test_reservation_admits_its_token_or_parent_id(token: str, parent_id: str | None, accepted: bool) -> None:
    m = Machine(reservation=RESERVATION)
    m.plug()
    result = m.send(Authorize(token, parent_id))
    assert result.reply is accepted
    if accepted:
        assert said(result)[0] == "EndReservation(UsedToStartCharging)"
        assert m.reservation is None
    else:
        assert said(result) == ["ReservationAuthtokenMismatch"]
        assert m.state() is State.WaitingForAuthentication
        assert m.reservation == RESERVATION


def test_free_charging_does_not_bypass_a_reservation() -> None:
    m = Machine(settings=replace(SETTINGS, free_charging=True), reservation=RESERVATION)
    started = m.plug()
    assert said(started) == ["SessionStarted", "AuthRequired"]
    assert emits(started)[0].reservation_id == RESERVATION.reservation_id
    assert m.send(Authorize(OTHER)).reply is False
    assert said(m.send(Authorize(RESERVATION.auth_token)))[0] == "EndReservation(UsedToStartCharging)"


def test_a_pre_authorization_for_another_token_does_not_open_a_reserved_connector() -> None:
    m = Machine()
    m.send(Authorize(OTHER))
    m.reservation = RESERVATION
    assert said(m.plug()) == ["SessionStarted", "AuthRequired"]
    assert m.reservation == RESERVATION


def test_session_started_names_no_reservation_when_none() -> None:
    assert emits(Machine().plug())[0].reservation_id is None


def test_session_events_name_their_own_session_token() -> None:
    m = Machine()
    assert [e.token for e in emits(m.plug())] == [None, None]  # SessionStarted, AuthRequired
    assert m.send(Authorize(TOKEN)).reply is True
    finished = emits(m.unplug())
    assert [(e.event, e.token) for e in finished] == [(SessionEvent.SessionFinished, TOKEN)]
    assert [e.token for e in emits(m.plug())] == [None, None]  # the next session has none yet
    m.unplug()
    assert m.send(Authorize(TOKEN)).reply is True  # before the car: a pre-authorization
    assert [e.token for e in emits(m.plug())] == [TOKEN, TOKEN, TOKEN]  # Started, ChargingStarted, PausedEV


def test_after_cancel_only_a_replug_starts_again() -> None:
    m = build("ChargingPausedEVSE/cancelled")
    for command in (Authorize(TOKEN), ResumeCharging(), PauseCharging()):
        assert m.send(command).reply is False
    for cp in (CPState.B, CPState.C):
        assert m.board(cp=cp).outputs == ()
    assert m.send(SetLocalMaxCurrent(3.0)).outputs == ()
    assert m.send(SetLocalMaxCurrent(16.0)).outputs == ()
    assert m.state() is State.ChargingPausedEVSE
    assert not m.output.power_allowed
    assert said(m.unplug()) == ["SessionFinished"]
    assert said(m.plug()) == ["SessionStarted", "AuthRequired"]


def test_authorize_while_the_car_already_requests_power() -> None:
    m = Machine()
    m.plug(CPState.C)
    assert said(m.send(Authorize(TOKEN))) == ["ChargingStarted", "ChargingResumed"]
    assert m.state() is State.Charging


def test_pre_authorized_plug_in_of_a_car_that_requests_power_at_once() -> None:
    m = Machine()
    m.send(Authorize(TOKEN))
    assert said(m.plug(CPState.C)) == ["SessionStarted", "ChargingStarted", "ChargingResumed"]


def test_pre_authorization_in_finished() -> None:
    m = build("Finished")
    assert m.send(Authorize(TOKEN)).reply is True


# --- set_local_max_current ------------------------------------------------------------------------


@pytest.mark.parametrize("current_a", [-1.0, -0.1, math.nan, 32.1, 100.0, math.inf, -math.inf])
@pytest.mark.parametrize("name", ["Idle", "Charging"])
def test_local_max_current_out_of_range(name: str, current_a: float) -> None:
    m = build(name)
    before = m.model
    result = m.send(SetLocalMaxCurrent(current_a))
    assert (result.reply, result.outputs, m.model) == ("Error_OutOfRange", (), before)


@pytest.mark.parametrize(
    ("current_a", "events", "after"),
    [
        (0.0, ["ChargingPausedEVSE"], State.ChargingPausedEVSE),
        (5.9, ["ChargingPausedEVSE"], State.ChargingPausedEVSE),
        (6.0, [], State.Charging),
        (16.0, [], State.Charging),
        (32.0, [], State.Charging),
    ],
)
def test_local_max_current_in_range(current_a: float, events: list[str], after: State) -> None:
    m = build("Charging")
    result = m.send(SetLocalMaxCurrent(current_a))
    assert (result.reply, said(result), m.state()) == (APPLIED, events, after)
    assert m.output.power_allowed is (after is State.Charging)


@pytest.mark.parametrize(("cp", "resumed"), [(CPState.C, "ChargingResumed"), (CPState.B, "ChargingPausedEV")])
def test_budget_pause_lifts_by_itself(cp: CPState, resumed: str) -> None:
    m = build("Charging")
    m.board(cp=cp)
    m.send(SetLocalMaxCurrent(2.0))
    assert m.state() is State.ChargingPausedEVSE
    assert m.send(SetLocalMaxCurrent(5.0)).outputs == ()
    assert said(m.send(SetLocalMaxCurrent(10.0))) == [resumed]
    assert m.output.pilot == PilotSignal.pwm(10.0)


def test_a_user_pause_is_not_lifted_by_budget() -> None:
    m = build("ChargingPausedEVSE/user")
    assert m.send(SetLocalMaxCurrent(0.0)).outputs == ()
    assert m.send(SetLocalMaxCurrent(16.0)).outputs == ()
    assert m.state() is State.ChargingPausedEVSE
    assert said(m.send(ResumeCharging())) == ["ChargingResumed"]


def test_resume_is_refused_while_the_budget_is_below_6_a() -> None:
    m = build("ChargingPausedEVSE/user")
    m.send(SetLocalMaxCurrent(5.0))
    assert m.send(ResumeCharging()).reply is False
    assert m.send(SetLocalMaxCurrent(6.0)).outputs == ()
    assert m.state() is State.ChargingPausedEVSE
    assert said(m.send(ResumeCharging())) == ["ChargingResumed"]


def test_pausing_a_budget_pause_makes_it_a_user_pause() -> None:
    m = build("ChargingPausedEVSE/budget")
    assert m.send(PauseCharging()).reply is True
    assert m.send(SetLocalMaxCurrent(16.0)).outputs == ()
    assert m.state() is State.ChargingPausedEVSE


# --- force_unlock ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Idle", "Charging", "WaitingForAuthentication", "Disabled"])
def test_force_unlock_without_a_lock(name: str) -> None:
    m = build(name, lock=False)
    before = m.model
    result = m.send(ForceUnlock())
    assert (result.reply, result.outputs, m.model) == (False, (), before)


@pytest.mark.parametrize("name", ["WaitingForAuthentication", *_AUTHORIZED])
def test_force_unlock_during_a_session(name: str) -> None:
    m = build(name)
    uuid = m.session_uuid
    result = m.send(ForceUnlock())
    assert said(result) == ["SessionCancelled(UnlockCommand)", "Unlock"]
    assert emits(result)[0].uuid == uuid
    assert m.state() is State.ChargingPausedEVSE
    assert not m.output.power_allowed
    assert not m.output.locked


@pytest.mark.parametrize("name", ["Idle", "ChargingPausedEVSE/cancelled", "Disabled"])
def test_force_unlock_without_an_open_session_only_unlocks(name: str) -> None:
    m = build(name)
    assert said(m.send(ForceUnlock())) == ["Unlock"]
    assert m.state() is state_named(name)


def test_the_cable_is_locked_only_while_an_authorized_session_runs() -> None:
    m = Machine()
    m.plug()
    assert not m.output.locked
    m.send(Authorize(TOKEN))
    assert m.output.locked
    m.send(CancelCharging("Remote"))
    assert not m.output.locked


# --- errors from the board ------------------------------------------------------------------------


@pytest.mark.parametrize("error", list(ERROR_REPORTS))
@pytest.mark.parametrize("start", ["Idle", "Charging", "ChargingPausedEV", "WaitingForAuthentication"])
def test_board_error_enters_error_with_power_off(start: str, error: Error) -> None:
    m = build(start)
    if start == "Idle" and error not in (Error.RCD, Error.Relais):
        m.status = replace(m.status, plugged=True)  # a car plugged in with the fault
    uuid = m.session_uuid
    result = m.board(**ERROR_REPORTS[error])
    assert said(result) == [f"Error({error})"]
    assert [emit.uuid for emit in emits(result)] == [uuid]
    assert m.state() is State.Error
    assert (m.output.pilot, m.output.power_allowed) == (PilotSignal.x1(), False)


def test_an_error_keeps_the_session_and_its_authorization() -> None:
    m = build("Error/Relais")
    session = m.model.session
    assert session is not None and session.authorized and not session.cancelled
    assert m.board(cp=CPState.B).outputs == ()
    assert m.board(cp=CPState.C).outputs == ()
    assert m.state() is State.Error


_E = Error
CLEARS: list[tuple[str, Error, tuple[Action, ...], State, list[str]]] = [
    ("CP back to B", _E.Car, (board(cp=CPState.B),), State.ChargingPausedEV, []),
    ("CP back to C", _E.Car, (board(cp=CPState.C),), State.Charging, ["ChargingResumed"]),
    ("unplug", _E.Car, (unplug(),), State.Idle, ["SessionFinished"]),
    ("reported gone", _E.CarDiodeFault, (board(diode_fault=False),), State.Error, []),
    ("car stops", _E.CarDiodeFault, (board(diode_fault=False, cp=CPState.B),), State.Error, []),
    ("unplug", _E.CarDiodeFault, (unplug(),), State.Idle, ["SessionFinished"]),
    ("D to C", _E.VentilationNotAvailable, (board(cp=CPState.C),), State.Charging, ["ChargingResumed"]),
    ("unplug", _E.VentilationNotAvailable, (unplug(),), State.Idle, ["SessionFinished"]),
    ("stays in D", _E.VentilationNotAvailable, (board(cp=CPState.D),), State.Error, []),
    ("reported cleared", _E.RCD, (board(rcd_tripped=False),), State.Charging, ["ChargingResumed"]),
    ("car stops", _E.RCD, (board(cp=CPState.B),), State.Error, []),
    ("unplug", _E.RCD, (unplug(),), State.Error, ["SessionFinished"]),
    ("unplug, cleared", _E.RCD, (unplug(), board(rcd_tripped=False)), State.Idle, []),
    ("reported cleared", _E.Relais, (board(relay_welded=False, cp=CPState.B),), State.ChargingPausedEV, []),
    ("unplug", _E.Relais, (unplug(),), State.Error, ["SessionFinished"]),
    ("unplug, cleared", _E.Relais, (unplug(), board(relay_welded=False)), State.Idle, []),
    ("reported gone", _E.OverCurrent, (board(overcurrent_tripped=False),), State.Error, []),
    ("car stops", _E.OverCurrent, (board(overcurrent_tripped=False, cp=CPState.B),), State.Error, []),
    ("unplug", _E.OverCurrent, (unplug(),), State.Idle, ["SessionFinished"]),
]


@pytest.mark.parametrize(
    ("error", "actions", "after", "events"),
    [pytest.param(error, a, s, e, id=f"{error}-{name}") for name, error, a, s, e in CLEARS],
)
def test_board_error_clears_by_its_rule(
    error: Error, actions: tuple[Action, ...], after: State, events: list[str]
) -> None:
    m = build(f"Error/{error}")
    assert said(run(m, actions)) == events
    assert m.state() is after


def test_ventilation_error_is_not_cleared_by_the_car_obeying_x1() -> None:
    """In Error the pilot is X1, so D -> B is the car obeying the power-off, not a need that went away.

    Clearing there would offer PWM again, the car would ask D again, and Error would repeat
    every control cycle; the need is gone only when the car asks power without it (C).
    """
    m = build("Error/VentilationNotAvailable")
    m.board(cp=CPState.B)
    assert m.state() is State.Error
    m.board(cp=CPState.C)
    assert m.state() is State.Charging


def test_each_error_is_published_once() -> None:
    m = build("Charging")
    assert said(m.board(rcd_tripped=True)) == ["Error(RCD)"]
    assert said(m.board(rcd_tripped=True)) == []
    assert said(m.board(relay_welded=True)) == ["Error(Relais)"]
    assert said(m.board(rcd_tripped=False)) == []
    assert m.state() is State.Error


def test_no_session_starts_while_an_error_persists() -> None:
    m = Machine()
    assert said(m.board(rcd_tripped=True)) == ["Error(RCD)"]
    assert m.plug().outputs == ()
    assert m.model.session is None
    assert said(m.board(rcd_tripped=False)) == ["SessionStarted", "AuthRequired"]


def test_a_plug_with_a_pilot_short_starts_no_session_until_it_clears() -> None:
    m = Machine()
    assert said(m.plug(CPState.E)) == ["Error(Car)"]
    assert m.model.session is None
    assert said(m.board(cp=CPState.B)) == ["SessionStarted", "AuthRequired"]


@pytest.mark.parametrize("via_tick", [True, False], ids=["tick", "report"])
@pytest.mark.parametrize(("elapsed_s", "tripped"), [(6.9, False), (7.0, False), (7.1, True), (30.0, True)])
def test_over_current_after_7_s_above_110_percent(via_tick: bool, elapsed_s: float, tripped: bool) -> None:
    m = build("Charging")
    m.send(SetLocalMaxCurrent(16.0))  # 1.1 x 16 A = 17.6 A
    assert m.board(currents_a=(16.0, 18.0, 16.0)).outputs == ()
    m.now += elapsed_s
    result = m.send(Tick()) if via_tick else m.board(currents_a=(16.0, 18.0, 16.0))
    assert said(result) == (["Error(OverCurrent)"] if tripped else [])
    assert m.state() is (State.Error if tripped else State.Charging)
    assert m.output.power_allowed is not tripped


def test_over_current_timer_resets_when_the_current_drops() -> None:
    m = build("Charging")
    m.send(SetLocalMaxCurrent(16.0))
    m.board(currents_a=(18.0, 0.0, 0.0))
    m.now += 5.0
    assert m.board(currents_a=(17.0, 0.0, 0.0)).outputs == ()
    m.now += 1.0
    m.board(currents_a=(18.0, 0.0, 0.0))
    m.now += 6.9
    assert m.send(Tick()).outputs == ()
    m.now += 0.2
    assert said(m.send(Tick())) == ["Error(OverCurrent)"]


def test_a_current_within_110_percent_is_tolerated() -> None:
    m = build("Charging")
    m.send(SetLocalMaxCurrent(16.0))
    m.board(currents_a=(17.5, 17.5, 17.5))
    m.now += 60.0
    assert m.board(currents_a=(17.5, 17.5, 17.5)).outputs == ()
    assert m.state() is State.Charging


def test_over_current_from_the_7_s_rule_clears_at_unplug() -> None:
    m = build("Charging")
    m.board(currents_a=(40.0, 40.0, 40.0))
    m.now += 8.0
    assert said(m.send(Tick())) == ["Error(OverCurrent)"]
    assert m.board(currents_a=(0.0, 0.0, 0.0)).outputs == ()
    assert m.state() is State.Error
    assert said(m.unplug()) == ["SessionFinished"]
    assert m.state() is State.Idle


# --- unplug, Disabled and Faulted, Finished -------------------------------------------------------


@pytest.mark.parametrize("name", SESSION_STATES)
def test_unplug_in_any_state_finishes_the_session_directly(name: str) -> None:
    m = build(name)
    uuid = m.session_uuid
    result = m.unplug()
    assert said(result) == ["SessionFinished"]
    assert emits(result)[0].uuid == uuid != ""
    assert m.model.session is None
    assert not m.output.power_allowed


@pytest.mark.parametrize("name", ["Disabled", "Faulted"])
def test_plug_in_while_unavailable_starts_no_session(name: str) -> None:
    m = build(name)
    assert m.plug().outputs == ()
    assert m.board(cp=CPState.C).outputs == ()
    assert m.model.session is None
    assert m.state() is state_named(name)
    assert m.unplug().outputs == ()


def test_enable_with_a_car_plugged_starts_a_session() -> None:
    m = build("Disabled")
    m.plug()
    result = m.send(Enable())
    assert said(result) == ["Enabled", "SessionStarted", "AuthRequired"]
    assert [emit.uuid for emit in emits(result)] == ["", "uuid-1", "uuid-1"]
    assert m.state() is State.WaitingForAuthentication


def test_faulted_recovers_by_disable_then_enable() -> None:
    m = build("Faulted")
    m.plug()
    assert m.send(Enable()).reply is False
    assert said(m.send(Disable())) == ["Disabled"]
    assert said(m.send(Enable())) == ["Enabled", "SessionStarted", "AuthRequired"]


def test_enable_keeps_a_session_cancelled_by_disable() -> None:
    m = build("Disabled/session")
    uuid = m.session_uuid
    assert said(m.send(Enable())) == ["Enabled"]
    assert m.session_uuid == uuid
    assert m.state() is State.ChargingPausedEVSE
    assert not m.output.power_allowed
    assert m.send(Authorize(TOKEN)).reply is False
    assert said(m.unplug()) == ["SessionFinished"]
    assert said(m.plug()) == ["SessionStarted", "AuthRequired"]
    assert m.session_uuid != uuid


def test_finished_waits_for_accept_new_session() -> None:
    m = Machine(settings=replace(SETTINGS, require_accept_new_session=True))
    run(m, CHARGING)
    assert said(m.unplug()) == ["SessionFinished"]
    assert m.state() is State.Finished
    assert m.plug().outputs == ()
    assert m.model.session is None
    assert m.unplug().outputs == ()
    assert m.send(AcceptNewSession()).reply is True
    assert m.state() is State.Idle
    assert said(m.plug()) == ["SessionStarted", "AuthRequired"]


def test_accept_new_session_with_a_car_waiting_starts_its_session() -> None:
    m = build("Finished")
    m.plug()
    result = m.send(AcceptNewSession())
    assert (result.reply, said(result)) == (True, ["SessionStarted", "AuthRequired"])


def test_without_require_accept_new_session_unplug_leads_to_idle() -> None:
    m = build("Charging")
    m.unplug()
    assert m.state() is State.Idle
    assert said(m.plug()) == ["SessionStarted", "AuthRequired"]


@pytest.mark.parametrize("name", ["Idle", "Disabled", "Finished"])
def test_supervisor_gives_up_without_a_session(name: str) -> None:
    m = build(name)
    result = set_faulted(m.model, m.env(), Error.Internal)
    assert (result.reply, said(result)) == (True, ["PermanentFault(Internal)"])
    assert state_of(result.model, m.env()) is State.Faulted


def test_supervisor_gives_up_during_a_session() -> None:
    m = build("Charging")
    result = set_faulted(m.model, m.env(), Error.Internal)
    assert said(result) == ["SessionCancelled(Other)", "PermanentFault(Internal)"]
    assert {emit.uuid for emit in emits(result)} == {m.session_uuid}
    assert hardware_output(result.model, m.env()).pilot == PilotSignal.f()
    assert set_faulted(result.model, m.env(), Error.Internal).outputs == ()


def test_a_board_without_state_f_shows_faulted_as_x1_with_the_power_off() -> None:
    m = build("Charging", state_f=False, lock=False, phase_switching=False)
    result = set_faulted(m.model, m.env(), Error.Internal)
    output = hardware_output(result.model, m.env())
    assert (output.pilot, output.power_allowed, output.locked) == (PilotSignal.x1(), False, False)


_PAUSE_CHANGES: list[tuple[State, State, SessionEvent | None]] = [
    (State.ChargingPausedEV, State.Charging, SessionEvent.ChargingResumed),
    (State.Charging, State.ChargingPausedEV, SessionEvent.ChargingPausedEV),
    (State.Charging, State.ChargingPausedEVSE, SessionEvent.ChargingPausedEVSE),
    (State.ChargingPausedEV, State.ChargingPausedEVSE, SessionEvent.ChargingPausedEVSE),
    (State.ChargingPausedEVSE, State.Charging, SessionEvent.ChargingResumed),
    (State.ChargingPausedEVSE, State.ChargingPausedEV, SessionEvent.ChargingPausedEV),
    (State.Error, State.Charging, SessionEvent.ChargingResumed),
    (State.Error, State.ChargingPausedEV, None),
    (State.Error, State.ChargingPausedEVSE, None),
    (State.Charging, State.Error, None),
    (State.Charging, State.Charging, None),
    (State.WaitingForAuthentication, State.ChargingPausedEV, None),
    (State.Charging, State.Disabled, None),
    (State.Charging, State.Faulted, None),
]


@pytest.mark.parametrize(("before", "after", "event"), _PAUSE_CHANGES)
def test_transition_event(before: State, after: State, event: SessionEvent | None) -> None:
    authorized = build("Charging").model
    assert transition_event(before, after, authorized) is event
    cancelled = build("ChargingPausedEVSE/cancelled").model
    assert transition_event(before, after, cancelled) is None
    assert transition_event(before, after, build("WaitingForAuthentication").model) is None


# --- uuids ----------------------------------------------------------------------------------------


def test_every_event_carries_its_sessions_uuid() -> None:
    m = Machine()
    assert [e.uuid for e in emits(m.send(Disable()))] == [""]
    assert [e.uuid for e in emits(m.send(Enable()))] == [""]
    first = [*emits(m.plug()), *emits(m.send(Authorize(TOKEN))), *emits(m.board(cp=CPState.C))]
    first += [
        *emits(m.send(PauseCharging())),
        *emits(m.send(ResumeCharging())),
        *emits(m.board(rcd_tripped=True)),
    ]
    first += [*emits(m.board(rcd_tripped=False)), *emits(m.send(Disable())), *emits(m.unplug())]
    assert len(first) == 12
    assert {e.uuid for e in first} == {"uuid-1"}
    assert [e.uuid for e in emits(m.send(Enable()))] == [""]
    second = [*emits(m.plug()), *emits(m.send(SetFaulted())), *emits(m.unplug())]
    assert [e.uuid for e in second] == ["uuid-2"] * 5
    assert [e.uuid for e in emits(m.send(SetFaulted()))] == []


# --- phase switching ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        *[
            (name, "Error_NotCharging")
            for name in ["Idle", "WaitingForAuthentication", "Disabled", "Faulted"]
        ],
        ("ChargingPausedEVSE/cancelled", "Error_NotCharging"),
        *[(name, "Success") for name in _AUTHORIZED],  # already three phases
    ],
)
def test_switch_without_a_change_of_mode_is_answered_at_once(name: str, reply: str) -> None:
    result = build(name).send(SwitchThreePhases(True))
    assert (result.reply, said(result)) == (reply, [])


def test_switch_not_supported_by_the_connector() -> None:
    m = build("Charging", phases=1, phase_switching=False)
    assert m.send(SwitchThreePhases(True)).reply == "Error_NotSupported"


def test_a_switch_is_answered_by_the_hardware_when_it_ended() -> None:
    m = build("Charging")
    begun = m.send(SwitchThreePhases(False))
    assert (begun.reply, said(begun)) == (Pending.SWITCH_RESULT, ["PhaseSwitch(one)"])
    assert (m.model.switching_to, m.model.three_phases) == (False, True)
    assert m.send(SwitchThreePhases(True)).reply is Pending.AFTER_SWITCH  # one switch at a time
    ended = m.send(PhasesSwitched("Success", three_phases=False))
    assert (ended.reply, said(ended)) == ("Success", [])
    assert (m.model.switching_to, m.model.three_phases, m.state()) == (None, False, State.Charging)


def test_a_failed_switch_keeps_the_boards_mode() -> None:
    m = build("Charging")
    m.send(SwitchThreePhases(False))
    assert m.send(PhasesSwitched("Error_Hardware", three_phases=True)).reply == "Error_Hardware"
    assert (m.model.switching_to, m.model.three_phases) == (None, True)


def test_the_end_of_a_session_switches_back_to_the_configured_phases() -> None:
    m = build("Charging")
    m.send(SwitchThreePhases(False))
    m.send(PhasesSwitched("Success", three_phases=False))
    assert said(m.unplug()) == ["SessionFinished", "PhaseSwitch(three)"]
    assert m.model.switching_to is True
    assert said(m.send(PhasesSwitched("Success", three_phases=True))) == []


def test_a_session_that_ends_during_a_switch_switches_back_once_it_ended() -> None:
    m = build("Charging")
    m.send(SwitchThreePhases(False))
    assert said(m.unplug()) == ["SessionFinished"]  # the switch in flight ends first
    assert said(m.send(PhasesSwitched("Success", three_phases=False))) == ["PhaseSwitch(three)"]


# --- reservation_verdict --------------------------------------------------------------------------

_FUTURE, _PAST = T0 + 60.0, T0 - 1.0
_OTHER_RESERVATION = replace(RESERVATION, reservation_id=8)
VERDICTS: list[tuple[State, bool, float, Reservation | None, str | None]] = [
    (State.Disabled, False, _FUTURE, None, "Unavailable"),
    (State.Disabled, True, _PAST, _OTHER_RESERVATION, "Unavailable"),
    (State.Faulted, False, _FUTURE, None, "Faulted"),
    (State.Faulted, True, _PAST, None, "Faulted"),
    (State.Error, False, _FUTURE, None, "Faulted"),
    (State.Error, True, _PAST, _OTHER_RESERVATION, "Faulted"),
    (State.Idle, False, _PAST, None, "Rejected"),
    (State.Idle, False, T0, None, "Rejected"),
    (State.Idle, True, _PAST, _OTHER_RESERVATION, "Rejected"),
    (State.Idle, True, _FUTURE, None, "Occupied"),
    *[
        (state, True, _FUTURE, None, "Occupied")
        for state in (State.WaitingForAuthentication, State.ChargingPausedEV, State.Charging)
    ],
    (State.ChargingPausedEVSE, True, _FUTURE, RESERVATION, "Occupied"),
    (State.Finished, False, _FUTURE, None, "Occupied"),
    (State.Idle, False, _FUTURE, _OTHER_RESERVATION, "Occupied"),
    (State.Idle, False, _FUTURE, RESERVATION, None),
    (State.Idle, False, _FUTURE, None, None),
]


@pytest.mark.parametrize(("state", "plugged", "expiry", "current", "verdict"), VERDICTS)
def test_reservation_verdict_in_the_specs_order(
    state: State, plugged: bool, expiry: float, current: Reservation | None, verdict: str | None
) -> None:
    assert reservation_verdict(state, plugged, expiry, T0, current, RESERVATION.reservation_id) == verdict


@pytest.mark.parametrize(
    ("name", "expiry", "reply"),
    [
        ("Disabled", _FUTURE, "Unavailable"),
        ("Faulted", _FUTURE, "Faulted"),
        ("Error/RCD", _FUTURE, "Faulted"),
        ("Idle", _PAST, "Rejected"),
        ("WaitingForAuthentication", _FUTURE, "Occupied"),
        ("Finished", _FUTURE, "Occupied"),
    ],
)
def test_reserve_now_refused_by_the_table(name: str, expiry: float, reply: str) -> None:
    result = build(name).send(ReserveNow(7, "RES-TOKEN", expiry))
    assert (result.reply, said(result)) == (reply, [])


def test_reserve_now_accepted_replaces_its_own_id_only() -> None:
    m = Machine()
    result = m.send(ReserveNow(7, "RES-TOKEN", _FUTURE, "P"))
    assert (result.reply, said(result)) == ("Accepted", ["StartReservation(7)"])
    assert m.reservation == Reservation(7, "RES-TOKEN", _FUTURE, "P")
    assert said(m.send(ReserveNow(7, "NEW-TOKEN", _FUTURE))) == ["StartReservation(7)"]
    other = m.send(ReserveNow(8, "OTHER", _FUTURE))
    assert (other.reply, said(other)) == ("Occupied", [])


def test_cancel_reservation() -> None:
    m = Machine()
    assert (m.send(CancelReservation()).reply, m.reservation) == (False, None)
    m.send(ReserveNow(7, "RES-TOKEN", _FUTURE))
    result = m.send(CancelReservation())
    assert (result.reply, said(result), m.reservation) == (True, ["EndReservation(Cancelled)"], None)


@pytest.mark.parametrize(
    ("name", "token"), [("Idle", None), ("WaitingForAuthentication", None), ("Charging", TOKEN)]
)
def test_signed_meter_value_names_the_sessions_token(name: str, token: str | None) -> None:
    result = build(name).send(GetSignedMeterValue())
    assert (result.reply, result.outputs) == (MeterAnswer(token, "T"), ())


@pytest.mark.parametrize("name", ["Idle", "Charging"])
def test_force_unlock_answers_whether_the_lock_opened(name: str) -> None:
    assert build(name).send(ForceUnlock()).reply == LockAnswer()


# --- random sequences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardChange:
    changes: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Reserve:
    """reserve_now for ten minutes from when it is applied."""

    reservation_id: int
    auth_token: str


def apply(m: Machine, item: object) -> Step:
    if isinstance(item, tuple):
        raise TypeError("apply one item at a time")
    if isinstance(item, BoardChange):
        return m.board(**dict(item.changes))
    if isinstance(item, Wait):
        m.now += item.seconds
        return m.send(Tick())
    if isinstance(item, Reserve):
        return m.send(ReserveNow(item.reservation_id, item.auth_token, m.now + 600.0, "P"))
    return m.send(item)


def _change(name: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[BoardChange]:
    return values.map(lambda value: BoardChange(((name, value),)))


_PLUG = BoardChange((("plugged", True), ("cp", CPState.B)))
_UNPLUG = BoardChange((("plugged", False), ("cp", CPState.A)))
_FAULTS = ("diode_fault", "rcd_tripped", "relay_welded", "overcurrent_tripped")
_USUAL = st.sampled_from(
    [
        _PLUG,
        BoardChange((("cp", CPState.C),)),
        BoardChange((("cp", CPState.B),)),
        Authorize(TOKEN),
        PauseCharging(),
        ResumeCharging(),
        SetLocalMaxCurrent(0.0),
        SetLocalMaxCurrent(5.9),
        SetLocalMaxCurrent(16.0),
        SetLocalMaxCurrent(32.0),
        AcceptNewSession(),
        Enable(),
    ]
)
_RARE = st.one_of(
    st.sampled_from(
        [_UNPLUG, Disable(), SetFaulted(), CancelCharging("Remote"), Authorize(OTHER, "P"), ForceUnlock()]
    ),
    _change("cp", st.sampled_from(list(CPState))),
    st.sampled_from(_FAULTS).flatmap(lambda fault: _change(fault, st.booleans())),
    _change("currents_a", st.sampled_from([0.0, 16.0, 40.0]).map(lambda a: (a, a, a))),
    st.sampled_from([0.5, 3.0, 8.0, 61.0]).map(Wait),
    st.builds(Reserve, st.sampled_from([1, 2]), st.sampled_from([TOKEN, OTHER])),
)
_TO_CHARGING = (_PLUG, Authorize(TOKEN), BoardChange((("cp", CPState.C),)))
_RECOVER = (Disable(), Enable())
ITEMS = st.one_of(st.sampled_from([_TO_CHARGING, _RECOVER, _UNPLUG]), _USUAL, _USUAL, _RARE)
RANDOM_SETTINGS = st.builds(
    lambda free, accept, lock, enabled: replace(
        SETTINGS, free_charging=free, require_accept_new_session=accept, lock=lock, enabled_at_start=enabled
    ),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([True, True, True, False]),
)


def check_output(m: Machine) -> None:
    """Power only in Charging or ChargingPausedEV, for a plugged, authorized, healthy session."""
    output, state, model = m.output, m.state(), m.model
    if output.power_allowed:
        assert state in (State.Charging, State.ChargingPausedEV)
        session = model.session
        assert session is not None and session.authorized and not session.cancelled
        assert model.plugged and model.enabled and not model.faulted and not model.errors
    assert (output.pilot.mode == "PWM") is output.power_allowed
    assert (output.pilot.mode == "F") is (state is State.Faulted)


def check_events(result: Step, open_uuid: str) -> str:
    """Sessions nest correctly and every event carries its session's uuid; the uuid open afterwards."""
    for emit in emits(result):
        if emit.event is SessionEvent.SessionStarted:
            assert open_uuid == "", "SessionStarted twice without SessionFinished"
            assert emit.uuid != ""
            open_uuid = emit.uuid
        elif emit.event is SessionEvent.SessionFinished:
            assert open_uuid != "", "SessionFinished without SessionStarted"
            assert emit.uuid == open_uuid
            open_uuid = ""
        else:
            assert emit.uuid == open_uuid
    return open_uuid


@hypothesis_settings(max_examples=300, deadline=None, database=None)
@given(settings=RANDOM_SETTINGS, items=st.lists(ITEMS, min_size=10, max_size=40))
def test_random_sequences_keep_the_invariants(settings: ConnectorSettings, items: list[object]) -> None:
    m = Machine(settings=settings)
    open_uuid = ""
    for item in (one for group in items for one in (group if isinstance(group, tuple) else (group,))):
        result = apply(m, item)
        open_uuid = check_events(result, open_uuid)
        assert open_uuid == m.session_uuid
        check_output(m)
