"""The Modbus drivers against pymodbus servers: invalid values, energy, faults, requests, framing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from pymodbus.constants import ExcCodes

from drivers.base import CPState, DriverError, Meter, MeterReading, PilotSignal
from drivers.modbus import ModbusBoard, ModbusLink, ModbusMeter, board_capabilities
from drivers.modbus.poller import INVALID_POLLS_MAX
from drivers.modbus.settings import LIMIT_REFRESH_S
from tests.drivers.modbus.devices import wait_until
from tests.drivers.rigs import ModbusRig, modbus_device


@pytest.fixture
def sdm630() -> Iterator[ModbusRig]:
    rig = ModbusRig("eastron_sdm630")
    yield rig
    rig.stop()


@pytest.fixture
def bender() -> Iterator[ModbusRig]:
    rig = ModbusRig("bender_cc613")
    yield rig
    rig.stop()


def read_again(meter: Meter) -> MeterReading:
    """The next good reading: a link that lost its device asks it again after its timeout_s."""
    readings: list[MeterReading] = []

    def read() -> bool:
        with contextlib.suppress(DriverError):
            readings.append(meter.reading())
        return bool(readings)

    wait_until(read, what="a reading once the link asks again")
    return readings[0]


def counted_energy_wh(rig: ModbusRig) -> float:
    rig.flow(16.0)
    rig.clock.advance(10.0)
    return rig.meter.reading().energy_import_wh


def test_an_invalid_energy_keeps_the_last_good_one_never_zero(sdm630: ModbusRig) -> None:
    good_wh = counted_energy_wh(sdm630)
    assert good_wh > 0
    sdm630.site.faults.invalid = {"energy_import_wh"}  # NaN, as the meter marks "no value"
    sdm630.clock.advance(10.0)
    for _ in range(INVALID_POLLS_MAX - 1):
        assert sdm630.meter.reading().energy_import_wh == good_wh
    with pytest.raises(DriverError, match="energy_import_wh read invalid"):
        sdm630.meter.reading()
    sdm630.site.faults.invalid = set()
    assert sdm630.meter.reading().energy_import_wh > good_wh


def test_a_needed_value_invalid_from_the_start_is_a_driver_error(bender: ModbusRig) -> None:
    bender.site.faults.invalid = {"energy_import_wh"}  # 0xFFFFFFFF
    with pytest.raises(DriverError, match="energy_import_wh"):
        bender.meter.reading()
    bender.site.faults.invalid = set()
    assert bender.meter.reading().energy_import_wh == 0.0


def test_an_optional_value_invalid_from_the_start_is_an_absent_capability(bender: ModbusRig) -> None:
    bender.site.faults.invalid = {"power_total_w"}  # a Bender without its meter: 0xFFFFFFFF from the start
    bender.flow(10.0)
    for _ in range(5):
        reading = bender.meter.reading()
    assert reading.power_w == pytest.approx((2300.0, 2300.0, 2300.0))  # from voltage x current, never 0


def test_an_invalid_current_on_the_board_is_retried(bender: ModbusRig) -> None:
    bender.plug_in()
    bender.board.set_pilot(PilotSignal.pwm(16.0))
    bender.board.allow_power(True)
    bender.clock.advance(0.2)
    assert bender.board.status().currents_a[0] == pytest.approx(16.0)
    bender.site.faults.invalid = {"currents_a"}
    bender.clock.advance(0.2)
    assert bender.board.status().currents_a[0] == pytest.approx(16.0)


def test_a_meter_that_reports_less_energy_than_before_is_refused(sdm630: ModbusRig) -> None:
    good_wh = counted_energy_wh(sdm630)
    sdm630.site.faults.energy_back_wh = good_wh / 2
    assert sdm630.meter.reading().energy_import_wh >= good_wh


def test_a_modbus_exception_is_a_driver_error_that_names_it(bender: ModbusRig) -> None:
    bender.site.faults.exception = ExcCodes.DEVICE_BUSY
    with pytest.raises(DriverError, match="Modbus exception 6"):
        bender.meter.reading()


def test_a_dropped_connection_is_a_driver_error_and_the_link_reconnects(bender: ModbusRig) -> None:
    assert bender.meter.reading().energy_import_wh == 0.0
    for server in bender.site.servers:
        server.drop_connections()
    with pytest.raises(DriverError):
        bender.meter.reading()
    with pytest.raises(DriverError, match="not asked, the device was lost"):  # at once, within timeout_s
        bender.meter.reading()
    assert read_again(bender.meter).energy_import_wh == 0.0


def test_a_slow_device_within_the_timeout_answers(sdm630: ModbusRig) -> None:
    sdm630.site.faults.delay_s = 0.2
    assert sdm630.meter.reading().voltage_v == (230.0, 230.0, 230.0)


def test_a_device_slower_than_the_timeout_is_a_driver_error_and_its_late_answer_is_dropped(
    sdm630: ModbusRig,
) -> None:
    link = ModbusLink(sdm630.meter_device.endpoint, 0.1)
    meter = ModbusMeter(sdm630.meter_device, link, sdm630.clock)
    sdm630.site.faults.delay_s = 0.3
    with pytest.raises(DriverError):
        meter.reading()
    sdm630.site.faults.delay_s = 0.0
    sdm630.flow(16.0)
    assert read_again(meter).current_a == pytest.approx((16.0, 16.0, 16.0))
    link.close()


def test_a_device_that_never_answers_is_a_driver_error(sdm630: ModbusRig) -> None:
    link = ModbusLink(sdm630.meter_device.endpoint, 0.2)
    sdm630.site.faults.silent = True
    with pytest.raises(DriverError):
        ModbusMeter(sdm630.meter_device, link, sdm630.clock).reading()
    link.close()


def test_a_reading_reads_contiguous_blocks(sdm630: ModbusRig, bender: ModbusRig) -> None:
    sdm630.meter.reading()
    assert [s.requests for s in sdm630.site.servers] == [3]  # 0-17, 52-53, 70-75
    bender.meter.reading()
    assert bender.site.servers[1].requests == 1  # 212-227
    bender.board.status()
    assert bender.site.servers[0].requests == 4  # the limit written, then 122, 140, 212-217
    assert bender.meter_device.requests_per_call() == 1 and bender.board_device.requests_per_call() == 4


def test_the_limit_is_written_again_with_the_polls(bender: ModbusRig) -> None:
    bender.plug_in()
    bender.board.set_pilot(PilotSignal.pwm(16.0))
    bender.board.allow_power(True)
    for _ in range(3):
        bender.clock.advance(LIMIT_REFRESH_S)
        bender.board.status()
    limits = [value for name, value in bender.site.writes if name == "current_limit_a"]
    assert limits[-4:] == [16.0, 16.0, 16.0, 16.0]


def test_x1_and_f_are_the_limit_zero(bender: ModbusRig) -> None:
    bender.plug_in()
    bender.board.set_pilot(PilotSignal.pwm(20.0))
    bender.board.allow_power(True)
    assert bender.site.limit_a == 20.0
    bender.board.set_pilot(PilotSignal.f())
    assert bender.site.limit_a == 0.0
    bender.clock.advance(0.2)
    assert bender.board.status().cp == CPState.B


def test_rtu_framing_over_tcp() -> None:
    rig = ModbusRig("phoenix_charx", framing="rtu")
    try:
        assert rig.board_device.endpoint.framing == "rtu"
        rig.plug_in()
        rig.board.set_pilot(PilotSignal.pwm(12.0))
        rig.board.allow_power(True)
        rig.clock.advance(30.0)
        status = rig.board.status()
        assert (status.cp, status.relais_on) == (CPState.C, True)
        assert status.currents_a[0] == pytest.approx(12.0)
        assert rig.meter.reading().energy_import_wh > 0
    finally:
        rig.stop()


def test_a_charx_connector_reads_its_own_registers() -> None:
    rig = ModbusRig("phoenix_charx")
    try:
        second = modbus_device("phoenix_charx", "board", rig.site.servers[0])
        second = type(second)(**{**second.__dict__, "connector": 2})
        link = ModbusLink(second.endpoint, 1.0)
        board = ModbusBoard(second, link, board_capabilities(second, 32.0, 3), rig.clock)
        with pytest.raises(DriverError, match="exception 2"):  # the played controller has one point
            board.status()
        link.close()
    finally:
        rig.stop()
