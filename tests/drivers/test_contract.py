"""The driver contract: every board and meter driver passes these, the simulator and each Modbus model.

A Modbus model runs against a pymodbus server that holds the model's register map and plays
the device (tests/drivers/modbus/devices.py); a new driver is a rig, not a new set of tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.base import Board, BoardStatus, CPState, DriverError, PilotSignal
from tests.drivers.rigs import BOARD_MODELS, METER_MODELS, Rig, make_rig
from tests.harness import validate

POLL_S = 0.2  # more than any board's poll interval: the next status is a fresh reading


@pytest.fixture(params=("sim", *BOARD_MODELS))
def board_rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    rig = make_rig(request.param)
    yield rig
    rig.stop()


@pytest.fixture(params=("sim", *METER_MODELS))
def meter_rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    rig = make_rig(request.param)
    yield rig
    rig.stop()


def fresh_status(rig: Rig) -> BoardStatus:
    rig.clock.advance(POLL_S)
    return rig.board.status()


def charge(board: Board, current_a: float) -> None:
    board.set_pilot(PilotSignal.pwm(current_a))
    board.allow_power(True)


# --- board ------------------------------------------------------------------------------------


def test_no_car_is_state_a_with_the_relays_open(board_rig: Rig) -> None:
    status = fresh_status(board_rig)
    assert (status.cp, status.plugged, status.relais_on) == (CPState.A, False, False)


def test_a_car_plugged_in_is_state_b(board_rig: Rig) -> None:
    board_rig.plug_in()
    status = fresh_status(board_rig)
    assert (status.cp, status.plugged, status.relais_on) == (CPState.B, True, False)


def test_the_advertised_current_lets_the_car_draw_it(board_rig: Rig) -> None:
    board_rig.plug_in()
    charge(board_rig.board, 16.0)
    status = fresh_status(board_rig)
    assert status.cp == CPState.C and status.relais_on
    assert status.currents_a[0] == pytest.approx(16.0, abs=0.01)


def test_x1_with_the_power_off_stops_the_car(board_rig: Rig) -> None:
    board_rig.plug_in()
    charge(board_rig.board, 16.0)
    assert fresh_status(board_rig).relais_on
    board_rig.board.allow_power(False)
    board_rig.board.set_pilot(PilotSignal.x1())
    status = fresh_status(board_rig)
    assert (status.cp, status.relais_on, max(status.currents_a)) == (CPState.B, False, 0.0)


def test_unplugging_is_state_a_again(board_rig: Rig) -> None:
    board_rig.plug_in()
    assert fresh_status(board_rig).plugged
    board_rig.unplug()
    assert fresh_status(board_rig).cp == CPState.A


def test_a_lost_link_is_a_driver_error_and_the_driver_recovers(board_rig: Rig) -> None:
    board_rig.plug_in()
    board_rig.lose_comm()
    with pytest.raises(DriverError):
        fresh_status(board_rig)
    with pytest.raises(DriverError):
        charge(board_rig.board, 10.0)
    board_rig.restore_comm()
    charge(board_rig.board, 10.0)
    status = fresh_status(board_rig)
    assert status.cp == CPState.C and status.currents_a[0] == pytest.approx(10.0, abs=0.01)


def test_a_missing_capability_is_absent_not_pretended(board_rig: Rig) -> None:
    caps = board_rig.board.capabilities()
    if not caps.lock:
        assert board_rig.board.set_lock(True) is False
    if not caps.phase_switching:
        with pytest.raises(DriverError):
            board_rig.board.switch_phases(False)
    if caps.telemetry:
        validate("Telemetry", board_rig.board.telemetry().to_payload())
    else:
        with pytest.raises(DriverError):
            board_rig.board.telemetry()


# --- meter ------------------------------------------------------------------------------------


def test_energy_counts_while_current_flows(meter_rig: Rig) -> None:
    start_wh = meter_rig.meter.reading().energy_import_wh
    meter_rig.flow(16.0)
    meter_rig.clock.advance(60.0)
    reading = meter_rig.meter.reading()
    validate("Powermeter", reading.to_payload())
    assert reading.energy_import_wh > start_wh + 100.0  # 3 x 16 A x 230 V for an hour at 60x: 11 kWh
    assert sum(reading.power_w) > 10_000.0
    assert reading.current_a[0] == pytest.approx(16.0, abs=0.01)


def test_energy_never_goes_backwards(meter_rig: Rig) -> None:
    meter_rig.flow(10.0)
    readings = []
    for _ in range(5):
        meter_rig.clock.advance(7.0)
        readings.append(meter_rig.meter.reading().energy_import_wh)
    assert readings == sorted(readings) and readings[-1] > readings[0]


def test_a_lost_meter_is_a_driver_error_and_comes_back(meter_rig: Rig) -> None:
    meter_rig.lose_comm()
    with pytest.raises(DriverError):
        meter_rig.meter.reading()
    meter_rig.restore_comm()
    assert meter_rig.meter.reading().energy_import_wh >= 0.0


def test_a_meter_signs_or_says_it_cannot(meter_rig: Rig) -> None:
    signed = meter_rig.meter.signed_reading("TOKEN", "B")
    if meter_rig.meter.public_key_pem() is None:
        assert signed == ""
    else:
        assert signed.startswith("OCMF|")
