"""Modbus devices for the tests: pymodbus servers on loopback that hold a model's register map and play it.

A `Site` is one charging point: a car (plugged or not, drawing what the controller allows),
a controller and a meter. `Site.serve(model, ...)` starts a pymodbus server (its simulator
API: `SimDevice` / `SimData` with an async `action`) whose registers are exactly the model's;
before each request the action writes the site's state into them, and a written current
limit or enable becomes the controller's. Faults: an exception code, a slow device, a
device that does not answer, dropped connections, invalid values, an energy count that
goes back.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.clock import Clock
from drivers.modbus import DeviceModel, Register
from drivers.modbus.model import Kind
from drivers.modbus.reader import _TYPES

VOLTAGE_V = 230.0
_DRAWING = ("C", "D")
_SENTINEL = {"uint16": [0xFFFF], "uint32": [0xFFFF, 0xFFFF]}


@dataclass
class Faults:
    exception: ExcCodes | None = None  # every request answers this exception
    delay_s: float = 0.0  # every answer comes this late
    silent: bool = False  # no answer at all (the request times out)
    invalid: set[str] = field(default_factory=set)  # these values read as the device's "no value"
    energy_back_wh: float = 0.0  # the meter reports this much less than it counted


@dataclass
class Car:
    plugged: bool = False
    wants_power: bool = True
    max_current_a: float = 32.0
    phases: int = 3


class Site:
    """One charging point behind Modbus: the car, the controller's limit, the meter's count."""

    def __init__(self, clock: Clock, time_scale: float = 1.0) -> None:
        self.clock = clock
        self.time_scale = time_scale
        self.car = Car()
        self.faults = Faults()
        self.limit_a = 0.0
        self.enabled = True
        self.writes: list[tuple[str, float]] = []  # (value name, value) as the controller received them
        self.energy_wh = 0.0
        self._lock = threading.Lock()
        self._last_s = clock.monotonic()
        self.servers: list[DeviceServer] = []

    # --- what the devices show ---------------------------------------------------------

    def cp(self) -> str:
        if not self.car.plugged:
            return "A"
        return "C" if self.car.wants_power and self.allowed_a() > 0 else "B"

    def allowed_a(self) -> float:
        return self.limit_a if self.enabled else 0.0

    def currents_a(self) -> tuple[float, float, float]:
        if self.cp() not in _DRAWING:
            return (0.0, 0.0, 0.0)
        drawn_a = min(self.allowed_a(), self.car.max_current_a)
        return (drawn_a, drawn_a, drawn_a) if self.car.phases == 3 else (drawn_a, 0.0, 0.0)

    def values(self) -> dict[str, Any]:
        """Every contract value now, in the contract's units (energy advanced to now)."""
        with self._lock:
            self._advance()
            currents = self.currents_a()
            powers = tuple(VOLTAGE_V * a for a in currents)
            relay = "off" if not any(currents) else ("three_phases" if self.car.phases == 3 else "one_phase")
            energy_wh = self.energy_wh - self.faults.energy_back_wh
            return {
                "cp_state": self.cp(),
                "relay_state": relay,
                "currents_a": currents,
                "current_limit_a": self.limit_a,
                "enable": 1 if self.enabled else 0,
                "energy_import_wh": energy_wh,
                "energy_export_wh": 0.0,
                "power_w": powers,
                "power_total_w": sum(powers),
                "voltages_v": (VOLTAGE_V, VOLTAGE_V, VOLTAGE_V),
                "frequency_hz": 50.0,
            }

    def written(self, name: str, value: float) -> None:
        with self._lock:
            self._advance()
            if name == "current_limit_a":
                self.limit_a = value
            elif name == "enable":
                self.enabled = value != 0
            self.writes.append((name, value))

    def _advance(self) -> None:
        now_s = self.clock.monotonic()
        elapsed_s, self._last_s = max(0.0, now_s - self._last_s), now_s
        self.energy_wh += VOLTAGE_V * sum(self.currents_a()) * elapsed_s * self.time_scale / 3600.0

    # --- servers -------------------------------------------------------------------------

    def serve(
        self, model: DeviceModel, kinds: tuple[Kind, ...], *, unit: int | None = None, **options: Any
    ) -> DeviceServer:
        """A server on loopback for `model`'s registers of `kinds` (board, meter or both)."""
        server = DeviceServer(
            self, [DeviceMap(model, kinds, model.unit if unit is None else unit, 1)], **options
        )
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@dataclass(frozen=True)
class DeviceMap:
    """The registers one unit id answers: the model's `kinds`, offset for `connector`."""

    model: DeviceModel
    kinds: tuple[Kind, ...]
    unit: int
    connector: int

    def registers(self) -> list[Register]:
        merged: dict[tuple[str, int], Register] = {}
        for kind in self.kinds:
            for reg in self.model.registers(kind).values():
                merged.setdefault((reg.function, reg.address), reg)
        return sorted(merged.values(), key=lambda r: r.address)

    @property
    def offset(self) -> int:
        return self.model.connector_offset * self.connector


class DeviceServer:
    """A pymodbus TCP server (Modbus TCP or RTU framing) on its own event loop thread."""

    def __init__(self, site: Site, maps: list[DeviceMap], *, framing: str = "tcp") -> None:
        self.site = site
        self.requests = 0
        self._maps = maps
        self._framer = FramerType.SOCKET if framing == "tcp" else FramerType.RTU
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modbus-test-server", daemon=True)
        self._thread.start()
        self._server: ModbusTcpServer | None = None
        self.port = self._call(self._start(0))

    @property
    def endpoint(self) -> str:
        scheme = "tcp" if self._framer == FramerType.SOCKET else "rtu+tcp"
        return f"{scheme}://127.0.0.1:{self.port}"

    def drop_connections(self) -> None:
        """Close every client connection now (the listener stays)."""

        async def drop() -> None:
            assert self._server is not None
            for connection in list(self._server.active_connections.values()):
                connection.close()

        self._call(drop())

    def stop(self) -> None:
        """Stop answering: the listener and every connection close (idempotent)."""
        if self._loop.is_closed():
            return
        if self._server is not None:
            self._call(self._server.shutdown())  # type: ignore[no-untyped-call]
            self._server = None
        self._call(_cancel_others())  # requests a silent device still holds
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _start(self, port: int) -> int:
        devices = [self._device(m) for m in self._maps]
        self._server = ModbusTcpServer(devices, address=("127.0.0.1", port), framer=self._framer)
        await self._server.serve_forever(background=True)
        transport: Any = self._server.transport
        return int(transport.sockets[0].getsockname()[1])

    def _device(self, device_map: DeviceMap) -> SimDevice:
        simdata = [
            SimData(
                address=r.address + device_map.offset, count=r.length, values=0, datatype=DataType.REGISTERS
            )
            for r in device_map.registers()
        ]

        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            return await self._play(device_map, start_address, registers, set_values, address)

        return SimDevice(id=device_map.unit, simdata=simdata, action=action)

    async def _play(
        self,
        device_map: DeviceMap,
        start_address: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
        address: int,
    ) -> ExcCodes | None:
        self.requests += 1
        faults = self.site.faults
        if faults.silent:
            await asyncio.sleep(3600)
        if faults.delay_s:
            await asyncio.sleep(faults.delay_s)
        if faults.exception is not None:
            return faults.exception
        if set_values is not None:
            self._written(device_map, address, [int(v) for v in set_values])
        values = self.site.values()
        for reg in device_map.registers():
            words = encode(reg, values[reg.name], reg.name in faults.invalid)
            at = reg.address + device_map.offset - start_address
            registers[at : at + len(words)] = words
        return None

    def _written(self, device_map: DeviceMap, address: int, words: list[int]) -> None:
        for reg in device_map.registers():
            if reg.address + device_map.offset == address:
                self.site.written(reg.name, words[0] * reg.scale)


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def encode(reg: Register, value: Any, invalid: bool) -> list[int]:
    """The registers holding `value` (contract units) as the device would, or its "no value"."""
    items = value if isinstance(value, tuple) else (value,)
    words: list[int] = []
    for item in items:
        words += _encode_item(reg, item, invalid)
    return words


def _encode_item(reg: Register, item: Any, invalid: bool) -> list[int]:
    if invalid:
        if reg.invalid:
            raw: Any = reg.invalid[0]
        elif reg.type == "float32":
            raw = math.nan
        else:
            return list(_SENTINEL[reg.type])
    elif reg.codes:
        raw = next(code for code, meaning in reg.codes if meaning == item)
    elif reg.type == "float32":
        raw = float(item) / reg.scale
    else:
        raw = round(float(item) / reg.scale)
    if reg.type == "ascii":
        return ModbusTcpClient.convert_to_registers(str(raw).ljust(2 * reg.words, "\x00"), _TYPES["ascii"])
    return ModbusTcpClient.convert_to_registers(raw, _TYPES[reg.type], word_order=reg.word_order)


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    """A bounded poll for tests whose event comes from another process's clock."""
    event = threading.Event()
    deadline = threading.Event()
    timer = threading.Timer(timeout_s, deadline.set)
    timer.start()
    try:
        while not condition():
            if deadline.is_set():
                raise AssertionError(f"timed out waiting for {what}")
            event.wait(0.02)
    finally:
        timer.cancel()
