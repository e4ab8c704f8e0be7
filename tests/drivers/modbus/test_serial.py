"""Modbus RTU on a serial port: the driver opens a real tty (a pseudo-terminal) with pyserial.

The far end of the pseudo-terminal is bridged byte for byte to a pymodbus server that
frames RTU, as an RS-485 line would carry it. (A pseudo-terminal cannot take a parity bit,
so the line here is 8N1.)
"""

from __future__ import annotations

import os
import select
import socket
import threading
import tty
from collections.abc import Iterator

import pytest

from drivers.base import DriverError
from drivers.clock import SystemClock
from drivers.modbus import ModbusDevice, ModbusLink, ModbusMeter, parse_endpoint
from supervisor.config.devices import load_model
from tests.drivers.modbus.devices import DeviceServer, Site


class SerialLine:
    """A pseudo-terminal whose other end is bridged to `server` over TCP."""

    def __init__(self, server: DeviceServer) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._socket = socket.create_connection(("127.0.0.1", server.port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._bridge, name="serial-bridge", daemon=True)
        self._thread.start()

    def _bridge(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master, self._socket.fileno()], [], [], 0.05)
            if self._master in ready:
                self._socket.sendall(os.read(self._master, 4096))
            if self._socket.fileno() in ready:
                data = self._socket.recv(4096)
                if not data:
                    return
                os.write(self._master, data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()
        os.close(self._master)
        os.close(self._slave)


@pytest.fixture
def line() -> Iterator[tuple[Site, SerialLine]]:
    site = Site(SystemClock())
    server = site.serve(load_model("eastron_sdm630"), ("meter",), unit=3, framing="rtu")
    serial_line = SerialLine(server)
    yield site, serial_line
    serial_line.close()
    site.stop()


def test_a_meter_on_a_serial_port_reads_over_rtu(line: tuple[Site, SerialLine]) -> None:
    site, serial_line = line
    endpoint = parse_endpoint(f"rtu://{serial_line.path}?baudrate=19200&parity=N")
    assert endpoint.serial and endpoint.framing == "rtu"
    device = ModbusDevice("meter", load_model("eastron_sdm630"), endpoint, 3, 1, 0.5, 0.1)
    link = ModbusLink(endpoint, 0.5)
    try:
        site.car.plugged = True
        site.written("current_limit_a", 10.0)
        reading = ModbusMeter(device, link, SystemClock()).reading()
        assert reading.current_a == pytest.approx((10.0, 10.0, 10.0))
        assert reading.power_w == pytest.approx((2300.0, 2300.0, 2300.0))
        assert site.servers[0].requests == 3
    finally:
        link.close()


def test_a_serial_port_that_does_not_exist_is_a_driver_error() -> None:
    endpoint = parse_endpoint("rtu:///dev/no-such-port?baudrate=9600")
    device = ModbusDevice("meter", load_model("eastron_sdm630"), endpoint, 1, 1, 0.2, 0.1)
    link = ModbusLink(endpoint, 0.2)
    with pytest.raises(DriverError, match="no-such-port"):
        ModbusMeter(device, link, SystemClock()).reading()
    link.close()
