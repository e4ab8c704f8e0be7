"""One connection to a Modbus endpoint, shared by the devices behind it, one request at a time.

Each request is bounded by `timeout_s` and made once (`retries=0`): an exception response,
a timeout or a closed connection is a `DriverError`. After any failure the connection is
closed, so that a late answer is never taken for the answer to the next request (RTU frames
carry no transaction id), and the link reconnects by itself. A link that lost its device
fails at once for the next `timeout_s` instead of waiting again: the power-off attempts that
follow a failure never hold an actor for several timeouts in a row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from drivers.base import DriverError
from drivers.modbus.endpoint import Endpoint
from drivers.modbus.model import Function

log = logging.getLogger(__name__)

Client = ModbusTcpClient | ModbusSerialClient


class ModbusLink:
    """Requests to the devices behind one endpoint (thread-safe: one request at a time)."""

    def __init__(self, endpoint: Endpoint, timeout_s: float) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._down_until_s = 0.0  # monotonic time before which the lost device is not asked again
        self._down_reason = ""

    def read(self, function: Function, address: int, length: int, unit: int) -> list[int]:
        """`length` registers (or coils, as 0/1) from `address` of device `unit`."""

        def request(client: Client) -> ModbusPDU:
            if function == "holding":
                return client.read_holding_registers(address, count=length, device_id=unit)
            if function == "input":
                return client.read_input_registers(address, count=length, device_id=unit)
            return client.read_coils(address, count=length, device_id=unit)

        response = self._request(f"read {function} {address}+{length} of unit {unit}", request)
        values: Sequence[Any] = response.bits[:length] if function == "coil" else response.registers
        if len(values) != length:
            self._drop()
            raise DriverError(
                f"{self.endpoint} unit {unit}: asked {length} values at {address}, got {len(values)}"
            )
        return [int(v) for v in values]

    def write(self, address: int, registers: Sequence[int], unit: int) -> None:
        """Write holding registers from `address` (function 16, as the controllers expect)."""
        self._request(
            f"write {address}={list(registers)} to unit {unit}",
            lambda client: client.write_registers(address, list(registers), device_id=unit),
        )

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _request(self, what: str, request: Callable[[Client], ModbusPDU]) -> ModbusPDU:
        with self._lock:
            if time.monotonic() < self._down_until_s:
                raise DriverError(
                    f"{self.endpoint}: {what}: not asked, the device was lost: {self._down_reason}"
                )
            try:
                response = request(self._connected())
            except (ModbusException, OSError) as exc:
                self._drop()
                self._down_until_s, self._down_reason = time.monotonic() + self.timeout_s, str(exc)
                raise DriverError(f"{self.endpoint}: {what}: {exc}") from exc
            if response.isError():
                code = getattr(response, "exception_code", "?")
                raise DriverError(f"{self.endpoint}: {what}: Modbus exception {code}")
            return response

    def _connected(self) -> Client:
        if self._client is None:
            self._client = _client(self.endpoint, self.timeout_s)
        return self._client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()  # type: ignore[no-untyped-call]


def _client(endpoint: Endpoint, timeout_s: float) -> Client:
    framer = FramerType.SOCKET if endpoint.framing == "tcp" else FramerType.RTU
    common: dict[str, Any] = {"timeout": timeout_s, "retries": 0, "reconnect_delay": 0.0}
    if endpoint.serial:
        return ModbusSerialClient(
            endpoint.device,
            framer=framer,
            baudrate=endpoint.baudrate,
            parity=endpoint.parity,
            stopbits=endpoint.stopbits,
            **common,
        )
    return ModbusTcpClient(endpoint.host, port=endpoint.port, framer=framer, **common)
