"""The simulated car and board: control pilot, relays, charging curve, phases, faults, lock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.base import BoardCapabilities, CPState, DriverError, PilotSignal
from drivers.clock import FakeClock
from drivers.sim import FAULT_KINDS, SimPlant
from drivers.sim.car import taper_factor

CAPS = BoardCapabilities(max_current_a=32, phases=3, phase_switching=True, lock=True)
THREE_PHASE_16A_W = 3 * 16 * 230.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def plant(clock: FakeClock) -> SimPlant:
    return SimPlant(CAPS, clock)


def offer(plant: SimPlant, current_a: float = 16) -> None:
    """Drive PWM for `current_a` and allow power, as the station does when charging."""
    plant.board.set_pilot(PilotSignal.pwm(current_a))
    plant.board.allow_power(True)


def charging(plant: SimPlant, current_a: float = 16, **car: float) -> SimPlant:
    assert plant.controls.plug_in(**car)  # type: ignore[arg-type]
    offer(plant, current_a)
    return plant


# --- control pilot -----------------------------------------------------------------------------


def test_car_follows_the_pilot(plant: SimPlant) -> None:
    assert plant.board.status().cp == CPState.A
    assert plant.controls.plug_in()
    status = plant.board.status()
    assert (status.cp, status.plugged) == (CPState.B, True)
    plant.board.set_pilot(PilotSignal.pwm(16))
    assert plant.board.status().cp == CPState.C
    plant.board.set_pilot(PilotSignal.x1())
    assert plant.board.status().cp == CPState.B
    plant.board.set_pilot(PilotSignal.pwm(16))
    assert plant.board.status().cp == CPState.C
    plant.board.set_pilot(PilotSignal.f())
    assert plant.board.status().cp == CPState.B
    assert plant.controls.unplug()
    status = plant.board.status()
    assert (status.cp, status.plugged) == (CPState.A, False)


def test_a_slow_car_goes_on_drawing_after_the_pwm_is_gone(plant: SimPlant, clock: FakeClock) -> None:
    charging(plant, 16, stop_delay_s=2.0)
    plant.board.set_pilot(PilotSignal.x1())
    clock.advance(1.9)
    status = plant.board.status()
    assert (status.cp, status.relais_on, status.currents_a) == (CPState.C, True, (16.0, 16.0, 16.0))
    clock.advance(0.2)
    status = plant.board.status()
    assert (status.cp, status.relais_on, status.currents_a) == (CPState.B, False, (0.0, 0.0, 0.0))
    plant.board.set_pilot(PilotSignal.pwm(10))
    assert plant.board.status().currents_a == (10.0, 10.0, 10.0)


def test_a_car_stops_at_once_by_default(plant: SimPlant) -> None:
    charging(plant, 16)
    plant.board.set_pilot(PilotSignal.x1())
    assert plant.board.status().currents_a == (0.0, 0.0, 0.0)


def test_car_needing_ventilation_asks_d(plant: SimPlant) -> None:
    plant.controls.plug_in(needs_ventilation=True)
    plant.board.set_pilot(PilotSignal.pwm(16))
    assert plant.board.status().cp == CPState.D


def test_car_requests_power_whether_allowed_or_not(plant: SimPlant) -> None:
    plant.controls.plug_in()
    plant.board.set_pilot(PilotSignal.pwm(16))
    status = plant.board.status()
    assert (status.cp, status.relais_on, status.currents_a) == (CPState.C, False, (0.0, 0.0, 0.0))


def test_pause_and_resume(plant: SimPlant) -> None:
    assert not plant.controls.ev_pause()  # no car
    charging(plant)
    assert plant.controls.ev_pause()
    assert not plant.controls.ev_pause()
    status = plant.board.status()
    assert (status.cp, status.relais_on, status.currents_a) == (CPState.B, False, (0.0, 0.0, 0.0))
    assert plant.controls.ev_resume()
    assert not plant.controls.ev_resume()
    status = plant.board.status()
    assert (status.cp, status.relais_on) == (CPState.C, True)


# --- power ----------------------------------------------------------------------------------------


def test_car_draws_the_advertised_current_capped_by_its_own(plant: SimPlant) -> None:
    charging(plant, 16)
    status = plant.board.status()
    assert status.relais_on
    assert status.currents_a == pytest.approx((16, 16, 16))
    plant.board.set_pilot(PilotSignal.pwm(32))
    assert plant.board.status().currents_a == pytest.approx((32, 32, 32))
    plant.controls.unplug()
    charging(plant, 32, max_current_a=10)
    assert plant.board.status().currents_a == pytest.approx((10, 10, 10))


@pytest.mark.parametrize("stop", ["disallow", "x1", "f"])
def test_relays_open_at_once(plant: SimPlant, stop: str) -> None:
    charging(plant)
    if stop == "disallow":
        plant.board.allow_power(False)
    else:
        plant.board.set_pilot(PilotSignal.x1() if stop == "x1" else PilotSignal.f())
    status = plant.board.status()
    assert (status.relais_on, status.currents_a) == (False, (0.0, 0.0, 0.0))
    assert not plant.board.telemetry().relais_on


def test_energy_is_integrated_power(plant: SimPlant, clock: FakeClock) -> None:
    charging(plant, capacity_wh=60000, soc=0.2)
    clock.advance(100)
    expected_wh = THREE_PHASE_16A_W * 100 / 3600
    assert plant.meter.reading().energy_import_wh == pytest.approx(expected_wh)
    state = plant.controls.state()
    assert state["energy_wh"] == pytest.approx(expected_wh)
    assert (state["soc"] - 0.2) * 60000 == pytest.approx(expected_wh)


def test_time_scale_speeds_up_battery_and_meter(clock: FakeClock) -> None:
    plant = charging(SimPlant(CAPS, clock, time_scale=60))
    clock.advance(10)
    assert plant.meter.reading().energy_import_wh == pytest.approx(THREE_PHASE_16A_W * 600 / 3600)


def test_charges_to_target_then_stays_b(plant: SimPlant, clock: FakeClock) -> None:
    charging(plant, capacity_wh=10000, soc=0.5, target_soc=0.6)
    clock.advance(400)  # 1000 Wh at 11 kW take 326 s
    state = plant.controls.state()
    assert state["soc"] == pytest.approx(0.6)
    assert state["energy_wh"] == pytest.approx(1000)
    status = plant.board.status()
    assert (status.cp, status.relais_on, status.currents_a) == (CPState.B, False, (0.0, 0.0, 0.0))
    plant.board.set_pilot(PilotSignal.x1())
    plant.board.set_pilot(PilotSignal.pwm(16))
    plant.controls.ev_pause()
    plant.controls.ev_resume()
    clock.advance(1000)
    assert plant.board.status().cp == CPState.B
    assert plant.controls.state()["energy_wh"] == pytest.approx(1000)


def test_current_tapers_above_80_percent(plant: SimPlant) -> None:
    charging(plant, soc=0.9, target_soc=1.0)
    assert plant.board.status().currents_a == pytest.approx((16 * 0.55,) * 3)
    assert taper_factor(0.8) == 1.0
    assert taper_factor(0.999) == pytest.approx(0.1, abs=0.01)


def test_tapering_charge_reaches_target(clock: FakeClock) -> None:
    plant = charging(SimPlant(CAPS, clock, time_scale=3600), capacity_wh=20000, soc=0.7, target_soc=1.0)
    clock.advance(10)
    state = plant.controls.state()
    assert state["soc"] == 1.0
    assert state["cp"] == "B"
    assert state["energy_wh"] == pytest.approx(6000)


def test_unplug_keeps_the_register(plant: SimPlant, clock: FakeClock) -> None:
    charging(plant)
    clock.advance(60)
    energy_wh = plant.meter.reading().energy_import_wh
    assert plant.controls.unplug()
    assert not plant.controls.unplug()
    status = plant.board.status()
    assert (status.cp, status.plugged, status.relais_on, status.currents_a) == (
        CPState.A,
        False,
        False,
        (0.0, 0.0, 0.0),
    )
    clock.advance(60)
    assert plant.meter.reading().energy_import_wh == energy_wh
    charging(plant)
    clock.advance(60)
    assert plant.meter.reading().energy_import_wh == pytest.approx(2 * energy_wh)


# --- phases ---------------------------------------------------------------------------------------


def test_one_phase_car_draws_on_l1(plant: SimPlant) -> None:
    charging(plant, phases=1)
    assert plant.board.status().currents_a == pytest.approx((16, 0, 0))


def test_board_switched_to_one_phase(plant: SimPlant) -> None:
    plant.controls.plug_in()
    assert plant.board.status().three_phases
    plant.board.switch_phases(False)
    offer(plant)
    status = plant.board.status()
    assert not status.three_phases
    assert status.currents_a == pytest.approx((16, 0, 0))


def test_switch_phases_refused_with_relays_closed(plant: SimPlant) -> None:
    charging(plant)
    with pytest.raises(DriverError):
        plant.board.switch_phases(False)
    assert plant.board.status().three_phases
    plant.board.allow_power(False)
    plant.board.switch_phases(False)
    assert not plant.board.status().three_phases


def test_switch_phases_needs_the_capability(clock: FakeClock) -> None:
    fixed = SimPlant(BoardCapabilities(32, 3, phase_switching=False, lock=True), clock)
    with pytest.raises(DriverError):
        fixed.board.switch_phases(False)
    single = SimPlant(BoardCapabilities(32, 1, phase_switching=True, lock=True), clock)
    assert not single.board.status().three_phases
    with pytest.raises(DriverError):
        single.board.switch_phases(True)


# --- lock, telemetry, controls --------------------------------------------------------------------


def test_lock(plant: SimPlant) -> None:
    assert plant.board.capabilities() == CAPS
    assert plant.board.set_lock(True)
    assert plant.board.status().locked
    assert plant.board.set_lock(False)
    assert not plant.board.status().locked


def test_no_lock_capability(clock: FakeClock) -> None:
    plant = SimPlant(BoardCapabilities(32, 3, phase_switching=True, lock=False), clock)
    assert not plant.board.set_lock(True)
    assert not plant.board.status().locked


def test_telemetry(plant: SimPlant) -> None:
    idle = plant.board.telemetry()
    assert (idle.temperature, idle.fan_rpm, idle.rcd_current, idle.relais_on) == (25.0, 0.0, 2.0, False)
    assert (idle.supply_voltage_12V, idle.supply_voltage_minus_12V) == (12.0, -12.0)
    charging(plant, 16)
    warm = plant.board.telemetry()
    assert warm.temperature == pytest.approx(33.0)
    assert (warm.fan_rpm, warm.relais_on) == (0.0, True)
    plant.board.set_pilot(PilotSignal.pwm(32))
    hot = plant.board.telemetry()
    assert hot.temperature > 40
    assert hot.fan_rpm > 0
    assert set(hot.to_payload()) == {
        "temperature",
        "fan_rpm",
        "supply_voltage_12V",
        "supply_voltage_minus_12V",
        "rcd_current",
        "relais_on",
    }


def test_controls_refuse_what_changes_nothing(plant: SimPlant) -> None:
    assert plant.controls.plug_in()
    assert not plant.controls.plug_in()
    assert plant.controls.unplug()
    assert not plant.controls.unplug()
    assert not plant.controls.ev_resume()


@pytest.mark.parametrize(
    "car",
    [{"capacity_wh": 0}, {"soc": 1.5}, {"target_soc": -0.1}, {"max_current_a": 0}, {"phases": 2}],
)
def test_impossible_car_is_refused(plant: SimPlant, car: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(car))):
        plant.controls.plug_in(**car)  # type: ignore[arg-type]
    assert not plant.board.status().plugged


def test_state(plant: SimPlant, clock: FakeClock) -> None:
    charging(plant, soc=0.5)
    plant.controls.fault("diode")
    clock.advance(10)
    state = plant.controls.state()
    assert state["plugged"] is True
    assert state["cp"] == "C"
    assert state["soc"] > 0.5
    assert state["faults"] == ["diode"]
    assert state["energy_wh"] > 0
    assert state["currents_a"] == pytest.approx([16, 16, 16])
    unplugged = SimPlant(CAPS, clock).controls.state()
    assert (unplugged["plugged"], unplugged["cp"], unplugged["soc"]) == (False, "A", None)


# --- faults ---------------------------------------------------------------------------------------


def test_fault_kinds_are_checked(plant: SimPlant) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        plant.controls.fault("meteor")
    with pytest.raises(ValueError, match="unknown fault kind"):
        plant.controls.clear_fault("meteor")


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_fault_set_once_cleared_once(plant: SimPlant, kind: str) -> None:
    assert not plant.controls.clear_fault(kind)
    assert plant.controls.fault(kind)
    assert not plant.controls.fault(kind)
    assert plant.controls.state()["faults"] == [kind]
    assert plant.controls.clear_fault(kind)
    assert not plant.controls.clear_fault(kind)
    assert plant.controls.state()["faults"] == []


def test_clear_all_faults(plant: SimPlant) -> None:
    assert not plant.controls.clear_fault()
    for kind in FAULT_KINDS:
        plant.controls.fault(kind)
    assert plant.controls.clear_fault()
    assert plant.controls.state()["faults"] == []
    assert plant.board.status().cp == CPState.A


def test_rcd_trips_the_relays(plant: SimPlant) -> None:
    charging(plant)
    plant.controls.fault("rcd")
    status = plant.board.status()
    assert (status.rcd_tripped, status.relais_on, status.currents_a) == (True, False, (0.0, 0.0, 0.0))
    assert plant.board.telemetry().rcd_current >= 30
    plant.board.set_pilot(PilotSignal.x1())
    plant.controls.unplug()
    assert plant.board.status().rcd_tripped  # only clear_fault clears it
    plant.controls.clear_fault("rcd")
    assert not plant.board.status().rcd_tripped
    assert plant.board.telemetry().rcd_current < 30


def test_diode_fault(plant: SimPlant) -> None:
    plant.controls.fault("diode")
    plant.controls.plug_in()
    assert plant.board.status().diode_fault
    plant.controls.clear_fault("diode")
    assert not plant.board.status().diode_fault


def test_welded_relay_stays_on_without_current(plant: SimPlant, clock: FakeClock) -> None:
    charging(plant)
    plant.controls.fault("relay_weld")
    plant.board.allow_power(False)
    status = plant.board.status()
    assert (status.relay_welded, status.relais_on, status.currents_a) == (True, True, (0.0, 0.0, 0.0))
    assert plant.board.telemetry().relais_on
    with pytest.raises(DriverError):
        plant.board.switch_phases(False)
    energy_wh = plant.meter.reading().energy_import_wh
    clock.advance(60)
    assert plant.meter.reading().energy_import_wh == energy_wh
    plant.controls.clear_fault("relay_weld")
    status = plant.board.status()
    assert (status.relay_welded, status.relais_on) == (False, False)


def test_board_overcurrent_trip(plant: SimPlant) -> None:
    charging(plant)
    plant.controls.fault("overcurrent")
    status = plant.board.status()
    assert (status.overcurrent_tripped, status.relais_on, status.currents_a) == (True, False, (0, 0, 0))
    plant.controls.clear_fault("overcurrent")
    status = plant.board.status()
    assert (status.overcurrent_tripped, status.relais_on) == (False, True)


def test_overdraw_ignores_the_cars_own_maximum(plant: SimPlant) -> None:
    charging(plant, 16, max_current_a=10, soc=0.95, target_soc=1.0)
    plant.controls.fault("overdraw")
    assert plant.board.status().currents_a == pytest.approx((19.2, 19.2, 19.2))
    plant.controls.clear_fault("overdraw")
    assert plant.board.status().currents_a[0] < 10


def test_ventilation_fault_makes_the_car_ask_d(plant: SimPlant) -> None:
    plant.controls.fault("ventilation")
    charging(plant)
    assert plant.board.status().cp == CPState.D
    plant.controls.clear_fault("ventilation")
    assert plant.board.status().cp == CPState.C


def test_cp_short_shows_e_without_current(plant: SimPlant) -> None:
    plant.controls.fault("cp_short")
    assert plant.board.status().cp == CPState.E
    charging(plant)
    status = plant.board.status()
    assert (status.cp, status.relais_on, status.currents_a) == (CPState.E, False, (0.0, 0.0, 0.0))
    plant.controls.clear_fault("cp_short")
    status = plant.board.status()
    assert (status.cp, status.relais_on) == (CPState.C, True)


def test_lock_failure_keeps_the_lock_closed(plant: SimPlant) -> None:
    assert plant.board.set_lock(True)
    plant.controls.fault("lock_failure")
    assert plant.board.set_lock(True)
    assert not plant.board.set_lock(False)
    assert plant.board.status().locked
    plant.controls.clear_fault("lock_failure")
    assert plant.board.set_lock(False)
    assert not plant.board.status().locked


def test_board_comm_fault_raises_driver_error(plant: SimPlant) -> None:
    plant.controls.fault("board_comm")
    calls: list[Callable[[], object]] = [
        plant.board.capabilities,
        plant.board.status,
        plant.board.telemetry,
        lambda: plant.board.set_pilot(PilotSignal.pwm(16)),
        lambda: plant.board.allow_power(True),
        lambda: plant.board.set_lock(True),
        lambda: plant.board.switch_phases(False),
    ]
    for call in calls:
        with pytest.raises(DriverError):
            call()
    assert plant.meter.reading().energy_import_wh == 0.0
    plant.controls.clear_fault("board_comm")
    assert plant.board.status().cp == CPState.A


def test_the_board_tells_what_the_car_and_the_faults_change(plant: SimPlant) -> None:
    told: list[int] = []
    assert plant.board.on_change(lambda: told.append(1)) is True
    changes: list[Callable[[], object]] = [
        plant.controls.plug_in,
        plant.controls.ev_pause,
        plant.controls.ev_resume,
        lambda: plant.controls.fault("rcd"),
        lambda: plant.controls.clear_fault(),
        plant.controls.unplug,
    ]
    for nth, change in enumerate(changes, start=1):
        change()
        assert len(told) == nth
    offer(plant)  # what the board is told to do, its caller reads back itself
    plant.controls.unplug()  # no change, no news
    assert len(told) == len(changes)
