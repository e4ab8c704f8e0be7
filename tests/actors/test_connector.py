"""One connector of real actors on the simulator: every scenario of the contract, event by event."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from actors.charging import state_of
from actors.messages import (
    AcceptNewSession,
    Authorize,
    CancelCharging,
    CancelReservation,
    Disable,
    Enable,
    ForceUnlock,
    GetSignedMeterValue,
    PauseCharging,
    ReserveNow,
    ResumeCharging,
    SetFaulted,
    SetLocalMaxCurrent,
    SwitchThreePhases,
)
from actors.model import Env, State
from supervisor.tree import Abandoned, Later, answer
from tests.harness import Rig

STARTED = ["SessionStarted", "AuthRequired"]
AUTHORIZED = ["ChargingStarted", "ChargingPausedEV", "ChargingResumed"]


@pytest.fixture
def rig() -> Iterator[Rig]:
    connector = Rig()
    yield connector
    connector.stop()


def make_rig(**overrides: object) -> Iterator[Rig]:
    connector = Rig(**overrides)
    yield connector
    connector.stop()


def charge(rig: Rig, token: str = "TOKEN-1") -> None:
    assert rig.car.plug_in()
    rig.settle()
    assert rig.ask(Authorize(token)) is True


def state(rig: Rig) -> State:
    env = Env(rig.settings, rig.state.reservation, rig.clock.monotonic(), lambda: "", rig.clock.time())
    return state_of(rig.state.model, env)


def power(rig: Rig) -> bool:
    """Whether current can flow: power allowed to the board and relays closed."""
    hardware = rig.car.state()
    return bool(hardware["power_allowed"] and hardware["relais_on"])


def in_seconds(rig: Rig, seconds: float) -> float:
    return rig.clock.time() + seconds


# --- sessions -------------------------------------------------------------------------------------


def test_normal_session(rig: Rig) -> None:
    assert rig.events() == []
    charge(rig)
    assert rig.events() == STARTED + AUTHORIZED
    assert state(rig) is State.Charging and power(rig)
    rig.tick(60)
    rig.car.unplug()
    rig.settle()
    assert rig.events() == [*STARTED, *AUTHORIZED, "SessionFinished"]
    uuids = {v["uuid"] for v in rig.recorder.values("session_events")}
    assert len(uuids) == 1 and len(uuids.pop()) == 36
    started = rig.event_values("SessionStarted")[0]["session_started"]
    finished = rig.event_values("SessionFinished")[0]["session_finished"]
    assert finished["energy_Wh_import"] - started["energy_Wh_import"] > 100
    assert state(rig) is State.Idle and not power(rig)


def test_event_energy_is_the_meter_reading_and_never_goes_back(rig: Rig) -> None:
    charge(rig)
    started = rig.event_values("SessionStarted")[0]["session_started"]["energy_Wh_import"]
    rig.tick(30)
    rig.car.unplug()
    rig.settle()
    finished = rig.event_values("SessionFinished")[0]["session_finished"]["energy_Wh_import"]
    assert finished == rig.energy_wh()  # the clock stood still since the unplug
    assert started == 0.0
    readings = [p["energy_Wh_import"]["total"] for p in rig.recorder.values("powermeter")]
    assert readings == sorted(readings) and readings[-1] > 0


def test_car_pause_and_resume(rig: Rig) -> None:
    charge(rig)
    mark = rig.mark()
    rig.car.ev_pause()
    rig.settle()
    assert rig.since(mark) == ["ChargingPausedEV"]
    assert state(rig) is State.ChargingPausedEV and not power(rig)
    assert rig.ask(ResumeCharging()) is False  # a car pause is the car's to lift
    rig.car.ev_resume()
    rig.settle()
    assert rig.since(mark) == ["ChargingPausedEV", "ChargingResumed"]
    assert power(rig)


def test_evse_pause_and_resume(rig: Rig) -> None:
    charge(rig)
    mark = rig.mark()
    assert rig.ask(PauseCharging()) is True
    assert rig.since(mark) == ["ChargingPausedEVSE"] and not power(rig)
    assert rig.ask(PauseCharging()) is True  # already paused: true, nothing published
    assert rig.since(mark) == ["ChargingPausedEVSE"]
    assert rig.ask(ResumeCharging()) is True
    assert rig.since(mark) == ["ChargingPausedEVSE", "ChargingPausedEV", "ChargingResumed"]
    assert power(rig)
    assert rig.ask(ResumeCharging()) is False  # nothing to resume


def test_budget_below_6a_pauses_and_lifts_itself(rig: Rig) -> None:
    charge(rig)
    mark = rig.mark()
    assert rig.ask(SetLocalMaxCurrent(5.0)) == "Success"
    assert rig.since(mark) == ["ChargingPausedEVSE"] and not power(rig)
    assert rig.recorder.values("limits")[-1]["max_current"] == 5.0
    assert rig.ask(ResumeCharging()) is False  # no budget
    assert rig.ask(SetLocalMaxCurrent(6.0)) == "Success"
    assert rig.since(mark) == ["ChargingPausedEVSE", "ChargingPausedEV", "ChargingResumed"]
    assert power(rig) and rig.car.state()["advertised_current_a"] == pytest.approx(6.0)


def test_budget_does_not_lift_a_user_pause(rig: Rig) -> None:
    charge(rig)
    rig.ask(PauseCharging())
    rig.ask(SetLocalMaxCurrent(3.0))
    mark = rig.mark()
    assert rig.ask(SetLocalMaxCurrent(20.0)) == "Success"
    assert rig.since(mark) == [] and state(rig) is State.ChargingPausedEVSE


@pytest.mark.parametrize("current_a", [-1.0, 32.5, 1000.0, float("nan")])
def test_local_max_current_out_of_range(rig: Rig, current_a: float) -> None:
    assert rig.ask(SetLocalMaxCurrent(current_a)) == "Error_OutOfRange"
    assert rig.recorder.values("limits") == [
        {"uuid": "DE*TST*E1*1", "max_current": 32.0, "nr_of_phases_available": 3}
    ]


def test_local_max_current_changes_the_pwm_within_a_cycle(rig: Rig) -> None:
    charge(rig)
    assert rig.ask(SetLocalMaxCurrent(13.5)) == "Success"
    assert rig.car.state()["advertised_current_a"] == pytest.approx(13.5)
    assert rig.recorder.values("limits")[-1] == {
        "uuid": "DE*TST*E1*1",
        "max_current": 13.5,
        "nr_of_phases_available": 3,
    }


def test_cancel_then_unplug(rig: Rig) -> None:
    charge(rig)
    mark = rig.mark()
    assert rig.ask(CancelCharging("Remote")) is True
    assert not power(rig)
    assert rig.ask(CancelCharging("Remote")) is False  # already cancelled
    assert rig.ask(ResumeCharging()) is False
    assert rig.ask(Authorize("TOKEN-1")) is False
    rig.car.unplug()
    rig.settle()
    assert rig.since(mark) == ["SessionCancelled", "SessionFinished"]
    cancelled = rig.event_values("SessionCancelled")[0]
    assert cancelled["session_cancelled"]["reason"] == "Remote"


def test_cancel_while_waiting_for_authentication(rig: Rig) -> None:
    rig.car.plug_in()
    rig.settle()
    assert rig.ask(CancelCharging("DeAuthorized")) is True
    assert rig.ask(Authorize("T")) is False
    assert rig.events() == [*STARTED, "SessionCancelled"]


def test_cancel_without_session(rig: Rig) -> None:
    assert rig.ask(CancelCharging("Local")) is False
    assert rig.events() == []


def test_disable_during_a_session(rig: Rig) -> None:
    charge(rig)
    mark = rig.mark()
    assert rig.ask(Disable()) is True
    assert not power(rig) and rig.car.state()["pilot"] == "X1"
    assert rig.since(mark) == ["SessionCancelled", "Disabled"]
    assert rig.event_values("SessionCancelled")[0]["session_cancelled"]["reason"] == "Local"
    assert rig.ask(Disable()) is True and rig.since(mark) == ["SessionCancelled", "Disabled"]
    rig.car.unplug()
    rig.settle()
    assert rig.since(mark) == ["SessionCancelled", "Disabled", "SessionFinished"]
    rig.car.plug_in()
    rig.settle()
    assert rig.since(mark)[-1] == "SessionFinished"  # no session while disabled
    assert rig.ask(Enable()) is True
    assert rig.since(mark)[-3:] == ["Enabled", "SessionStarted", "AuthRequired"]


def test_set_faulted_during_a_session(rig: Rig) -> None:
    charge(rig)
    mark = rig.mark()
    assert rig.ask(SetFaulted()) is True
    assert not power(rig) and rig.car.state()["pilot"] == "F"
    assert rig.since(mark) == ["SessionCancelled", "PermanentFault"]
    assert rig.ask(Enable()) is False  # recover with disable, then enable
    rig.car.unplug()
    rig.settle()
    assert rig.since(mark) == ["SessionCancelled", "PermanentFault", "SessionFinished"]
    assert rig.ask(Disable()) is True and rig.ask(Enable()) is True
    assert state(rig) is State.Idle


# --- board errors ---------------------------------------------------------------------------------

BOARD_ERRORS = [
    ("rcd", "RCD", "cleared"),
    ("relay_weld", "Relais", "cleared"),
    ("diode", "CarDiodeFault", "unplug"),
    ("overcurrent", "OverCurrent", "unplug"),
    ("ventilation", "VentilationNotAvailable", "unplug"),
    ("cp_short", "Car", "cleared"),
]


@pytest.mark.parametrize(("kind", "error", "clears"), BOARD_ERRORS)
def test_board_error(rig: Rig, kind: str, error: str, clears: str) -> None:
    charge(rig)
    mark = rig.mark()
    assert rig.car.fault(kind)
    rig.settle()
    assert rig.since(mark) == ["Error"]
    assert rig.event_values("Error")[0]["error"] == error
    assert state(rig) is State.Error
    assert not rig.car.state()["power_allowed"] and rig.car.state()["pilot"] == "X1"
    rig.car.clear_fault(kind)
    rig.settle()
    if clears == "cleared":
        assert state(rig) is State.Charging  # authorization kept: the car draws again
        assert rig.since(mark) == ["Error", "ChargingResumed"]
        return
    assert state(rig) is State.Error  # only an unplug clears it
    rig.car.unplug()
    rig.settle()
    assert rig.since(mark) == ["Error", "SessionFinished"]
    assert state(rig) is State.Idle


def test_overdraw_past_7s_is_overcurrent(rig: Rig) -> None:
    charge(rig)
    rig.car.fault("overdraw")
    rig.settle()
    mark = rig.mark()
    rig.tick(6.9)
    assert rig.since(mark) == []
    rig.tick(0.2)
    assert rig.since(mark) == ["Error"]
    assert rig.event_values("Error")[0]["error"] == "OverCurrent"
    assert not power(rig)


def test_overdraw_below_7s_is_forgiven(rig: Rig) -> None:
    charge(rig)
    rig.car.fault("overdraw")
    rig.settle()
    rig.tick(5)
    rig.car.clear_fault("overdraw")
    rig.settle()
    rig.tick(5)
    assert "Error" not in rig.events()


def test_no_session_starts_while_an_error_persists(rig: Rig) -> None:
    rig.car.fault("rcd")
    rig.car.plug_in()
    rig.settle()
    assert rig.events() == ["Error"] and state(rig) is State.Error
    rig.car.clear_fault("rcd")
    rig.settle()
    assert rig.events() == ["Error", *STARTED]


# --- lock -----------------------------------------------------------------------------------------


def test_force_unlock_during_a_session(rig: Rig) -> None:
    charge(rig)
    assert rig.car.state()["locked"] is True
    mark = rig.mark()
    assert rig.ask(ForceUnlock()) is True
    assert rig.since(mark) == ["SessionCancelled"]
    assert rig.event_values("SessionCancelled")[0]["session_cancelled"]["reason"] == "UnlockCommand"
    assert rig.car.state()["locked"] is False and not power(rig)


def test_lock_failure_makes_force_unlock_false(rig: Rig) -> None:
    charge(rig)
    rig.car.fault("lock_failure")
    assert rig.ask(ForceUnlock()) is False
    assert rig.car.state()["locked"] is True


def test_force_unlock_without_a_lock() -> None:
    for rig in make_rig(lock=False):
        charge(rig)
        assert rig.ask(ForceUnlock()) is False
        assert "SessionCancelled" not in rig.events()


# --- reservations ---------------------------------------------------------------------------------


def test_reservation_results(rig: Rig) -> None:
    assert rig.ask(ReserveNow(1, "R", in_seconds(rig, -1))) == "Rejected"
    assert rig.ask(ReserveNow(1, "R", in_seconds(rig, 60))) == "Accepted"
    assert rig.ask(ReserveNow(2, "R", in_seconds(rig, 60))) == "Occupied"
    assert rig.ask(ReserveNow(1, "R2", in_seconds(rig, 90))) == "Accepted"  # same id replaces
    assert rig.events() == ["ReservationStart", "ReservationStart"]
    assert rig.event_values("ReservationStart")[1]["reservation_start"] == {
        "reservation_id": 1,
        "id_tag": "R2",
    }
    assert rig.ask(CancelReservation()) is True
    assert rig.ask(CancelReservation()) is False
    assert rig.event_values("ReservationEnd")[0]["reservation_end"] == {
        "reason": "Cancelled",
        "reservation_id": 1,
    }
    rig.car.plug_in()
    rig.settle()
    assert rig.ask(ReserveNow(3, "R", in_seconds(rig, 60))) == "Occupied"
    rig.ask(SetFaulted())
    assert rig.ask(ReserveNow(3, "R", in_seconds(rig, 60))) == "Faulted"
    rig.ask(Disable())
    assert rig.ask(ReserveNow(3, "R", in_seconds(rig, 60))) == "Unavailable"


def test_reservation_in_error_is_faulted(rig: Rig) -> None:
    rig.car.fault("rcd")
    rig.settle()
    assert rig.ask(ReserveNow(3, "R", in_seconds(rig, 60))) == "Faulted"


def test_reservation_expires(rig: Rig) -> None:
    assert rig.ask(ReserveNow(7, "R", in_seconds(rig, 10))) == "Accepted"
    rig.tick(9.9)
    assert rig.events() == ["ReservationStart"]
    rig.tick(0.2)
    assert rig.events() == ["ReservationStart", "ReservationEnd"]
    assert rig.event_values("ReservationEnd")[0]["reservation_end"] == {
        "reason": "Expired",
        "reservation_id": 7,
    }
    assert rig.ask(CancelReservation()) is False


@pytest.mark.parametrize(("token", "parent_id"), [("R", None), ("OTHER", "FLEET")])
def test_reservation_used_by_its_token_or_parent(rig: Rig, token: str, parent_id: str | None) -> None:
    assert rig.ask(ReserveNow(5, "R", in_seconds(rig, 60), "FLEET")) == "Accepted"
    rig.car.plug_in()
    rig.settle()
    assert rig.event_values("SessionStarted")[0]["session_started"]["reservation_id"] == 5
    assert rig.ask(Authorize(token, parent_id)) is True
    assert rig.events() == ["ReservationStart", *STARTED, "ReservationEnd", *AUTHORIZED]
    end = rig.event_values("ReservationEnd")[0]
    assert end["reservation_end"] == {"reason": "UsedToStartCharging", "reservation_id": 5}
    assert end["uuid"] == rig.event_values("SessionStarted")[0]["uuid"]


def test_reservation_refuses_another_token(rig: Rig) -> None:
    rig.ask(ReserveNow(5, "R", in_seconds(rig, 60), "FLEET"))
    rig.car.plug_in()
    rig.settle()
    assert rig.ask(Authorize("INTRUDER", "OTHER")) is False
    assert rig.events() == ["ReservationStart", *STARTED, "ReservationAuthtokenMismatch"]
    assert rig.ask(Authorize("R")) is True


def test_free_charging_does_not_bypass_a_reservation() -> None:
    for rig in make_rig(free_charging=True):
        rig.ask(ReserveNow(5, "R", in_seconds(rig, 60)))
        rig.car.plug_in()
        rig.settle()
        assert rig.events() == ["ReservationStart", *STARTED]


# --- authorization --------------------------------------------------------------------------------


def test_pre_authorization_before_plug_in(rig: Rig) -> None:
    assert rig.ask(Authorize("EARLY")) is True
    rig.tick(59)
    rig.car.plug_in()
    rig.settle()
    assert rig.events() == ["SessionStarted", *AUTHORIZED]
    assert rig.ask(Authorize("EARLY")) is True
    assert rig.ask(Authorize("SOMEONE-ELSE")) is False


def test_pre_authorization_times_out(rig: Rig) -> None:
    assert rig.ask(Authorize("EARLY")) is True
    rig.tick(60.1)
    rig.car.plug_in()
    rig.settle()
    assert rig.events() == STARTED


def test_free_charging() -> None:
    for rig in make_rig(free_charging=True):
        rig.car.plug_in()
        rig.settle()
        assert rig.events() == ["SessionStarted", *AUTHORIZED]


def test_authorize_refused_when_disabled(rig: Rig) -> None:
    rig.ask(Disable())
    assert rig.ask(Authorize("T")) is False


# --- phases, new sessions, signed values ----------------------------------------------------------


def test_switch_three_phases_results(rig: Rig) -> None:
    assert rig.ask(SwitchThreePhases(False)) == "Error_NotCharging"
    charge(rig)
    mark = rig.mark()
    assert rig.ask(SwitchThreePhases(True)) == "Success"  # already in that mode
    assert rig.ask(SwitchThreePhases(False)) == "Success"
    assert rig.recorder.values("limits")[-1]["nr_of_phases_available"] == 1
    assert rig.car.state()["three_phases"] is False
    rig.settle()
    assert power(rig) and rig.car.state()["currents_a"][1] == 0.0
    rig.car.fault("relay_weld")
    assert rig.ask(SwitchThreePhases(True)) == "Error_Hardware"
    rig.car.clear_fault("relay_weld")
    rig.settle()
    assert rig.ask(SwitchThreePhases(True)) == "Success"
    assert rig.recorder.values("limits")[-1]["nr_of_phases_available"] == 3
    assert rig.since(mark) == ["Error", "ChargingResumed"]  # only the weld; the switch itself is silent


def slow_charge(rig: Rig, stop_delay_s: float) -> None:
    assert rig.car.plug_in(stop_delay_s=stop_delay_s)
    rig.settle()
    assert rig.ask(Authorize("TOKEN-1")) is True
    assert state(rig) is State.Charging


def test_a_switch_waits_for_a_slow_car_while_the_actors_go_on(rig: Rig) -> None:
    slow_charge(rig, stop_delay_s=2.0)
    mark = rig.mark()
    later = rig.roster.ask("session", SwitchThreePhases(False), 5.0)
    assert isinstance(later, Later)
    for _ in range(3):
        rig.tick(0.5)
        assert not later.done and rig.car.state()["three_phases"] is True
        assert rig.car.state()["pilot"] == "X1" and power(rig)  # relays stay closed while it draws
    assert rig.roster.ask("session", SetLocalMaxCurrent(20.0), 5.0) == "Success"  # not blocked
    rig.tick(0.6)
    assert answer(later, 5.0) == "Success"
    rig.settle()
    hardware = rig.car.state()
    assert hardware["three_phases"] is False and hardware["pilot"] == "PWM" and power(rig)
    assert hardware["advertised_current_a"] == pytest.approx(20.0)  # what was set meanwhile
    assert rig.recorder.values("limits")[-1]["nr_of_phases_available"] == 1
    assert rig.since(mark) == []  # the switch itself is silent


def test_a_car_that_keeps_drawing_fails_the_switch(rig: Rig) -> None:
    slow_charge(rig, stop_delay_s=10.0)
    later = rig.roster.ask("session", SwitchThreePhases(False), 5.0)
    rig.tick(3.1)
    rig.tick()
    assert answer(later, 5.0) == "Error_Hardware"
    rig.settle()
    assert rig.car.state()["three_phases"] is True and rig.car.state()["pilot"] == "PWM"
    assert rig.recorder.values("limits")[-1]["nr_of_phases_available"] == 3


def test_switches_asked_meanwhile_run_after_the_one_in_flight(rig: Rig) -> None:
    slow_charge(rig, stop_delay_s=1.0)
    first = rig.roster.ask("session", SwitchThreePhases(False), 5.0)
    again = rig.roster.ask("session", SwitchThreePhases(False), 5.0)
    back = rig.roster.ask("session", SwitchThreePhases(True), 5.0)
    rig.tick(1.1)
    rig.tick()
    assert answer(first, 5.0) == "Success" and answer(again, 5.0) == "Success"
    assert not back.done
    rig.settle()
    rig.tick(1.1)
    rig.tick()
    assert answer(back, 5.0) == "Success" and rig.car.state()["three_phases"] is True


def test_a_switch_owed_by_a_stopped_session_actor_fails(rig: Rig) -> None:
    slow_charge(rig, stop_delay_s=2.0)
    later = rig.roster.ask("session", SwitchThreePhases(False), 5.0)
    rig.roster.refs["session"].stop()
    with pytest.raises(Abandoned, match="session actor stopped"):
        answer(later, 5.0)


def test_phases_return_to_the_configured_mode_after_the_session(rig: Rig) -> None:
    charge(rig)
    assert rig.ask(SwitchThreePhases(False)) == "Success"
    rig.car.unplug()
    rig.settle()
    assert rig.car.state()["three_phases"] is True
    assert rig.recorder.values("limits")[-1]["nr_of_phases_available"] == 3


def test_switch_not_supported() -> None:
    for rig in make_rig(phases=1, phase_switching=False):
        charge(rig)
        assert rig.ask(SwitchThreePhases(True)) == "Error_NotSupported"


def test_require_accept_new_session() -> None:
    for rig in make_rig(require_accept_new_session=True):
        assert rig.ask(AcceptNewSession()) is True  # already idle
        charge(rig)
        assert rig.ask(AcceptNewSession()) is False
        rig.car.unplug()
        rig.settle()
        assert state(rig) is State.Finished
        rig.car.plug_in()
        rig.settle()
        assert rig.events()[-1] == "SessionFinished"  # no new session before accept
        assert rig.ask(AcceptNewSession()) is True
        assert rig.events()[-2:] == STARTED


def _verify(signed: str, public_pem: str) -> dict[str, object]:
    prefix, payload, signature = signed.split("|")
    assert prefix == "OCMF"
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(bytes.fromhex(json.loads(signature)["SD"]), payload.encode(), ec.ECDSA(hashes.SHA256()))
    result: dict[str, object] = json.loads(payload)
    return result


def test_signed_meter_value_with_and_without_a_session(rig: Rig) -> None:
    public_pem = rig.plant.meter.public_key_pem()
    assert public_pem is not None
    idle = _verify(rig.ask(GetSignedMeterValue()), public_pem)
    assert idle["ID"] == "" and idle["IS"] is False
    charge(rig, "CARD-9")
    rig.tick(10)
    during = _verify(rig.ask(GetSignedMeterValue()), public_pem)
    assert during["ID"] == "CARD-9" and during["IS"] is True
    reading = during["RD"][0]  # type: ignore[index]
    assert reading["TX"] == "T" and reading["RV"] == pytest.approx(rig.energy_wh() / 1000, abs=1e-3)
    stamp = reading["TM"]
    assert dt.datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")


def test_session_events_carry_signed_values(rig: Rig) -> None:
    charge(rig, "CARD-2")
    rig.tick(5)
    rig.car.unplug()
    rig.settle()
    public_pem = rig.plant.meter.public_key_pem()
    assert public_pem is not None
    finished = rig.event_values("SessionFinished")[0]["session_finished"]
    assert _verify(finished["signed_meter_value"], public_pem)["ID"] == "CARD-2"


def test_a_connector_disabled_at_start_opens_a_session_only_when_enabled() -> None:
    for rig in make_rig(enabled_at_start=False):
        assert state(rig) is State.Disabled
        rig.car.plug_in()
        rig.settle()
        assert rig.events() == [] and rig.car.state()["pilot"] == "X1"
        assert rig.ask(Enable()) is True
        assert rig.events() == ["Enabled", *STARTED]
        assert rig.ask(Enable()) is True and rig.events() == ["Enabled", *STARTED]  # nothing new
