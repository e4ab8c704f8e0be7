"""Rigs for the contract suite: one driver and the device it talks to, played by the test.

`sim`: the simulator's board and meter. `<model>`: the Modbus driver of a shipped model
against a pymodbus server that holds that model's register map (tests/drivers/modbus/devices.py).
Both sides read one fake clock, so energy counts without waiting.
"""

from __future__ import annotations

from typing import Protocol

from pymodbus.constants import ExcCodes

from drivers.base import Board, BoardCapabilities, Meter, PilotSignal
from drivers.clock import FakeClock
from drivers.modbus import (
    ModbusBoard,
    ModbusDevice,
    ModbusLink,
    ModbusMeter,
    board_capabilities,
    parse_endpoint,
)
from drivers.modbus.model import Kind
from drivers.sim import SimPlant
from supervisor.config.devices import load_model
from tests.drivers.modbus.devices import DeviceServer, Site

BOARD_MODELS = ("bender_cc613", "phoenix_charx")
METER_MODELS = ("eastron_sdm630", "bender_cc613", "phoenix_charx")
TIME_SCALE = 60.0  # the played devices and the simulator count energy this much faster
MAX_CURRENT_A = 32.0


class Rig(Protocol):
    clock: FakeClock

    @property
    def board(self) -> Board: ...
    @property
    def meter(self) -> Meter: ...
    def plug_in(self) -> None: ...
    def unplug(self) -> None: ...
    def flow(self, current_a: float) -> None:
        """A car draws `current_a` per phase through the meter (for meter tests)."""

    def lose_comm(self) -> None: ...
    def restore_comm(self) -> None: ...
    def stop(self) -> None: ...


class SimRig:
    def __init__(self) -> None:
        self.clock = FakeClock()
        caps = BoardCapabilities(MAX_CURRENT_A, 3, True, True)
        self.plant = SimPlant(caps, self.clock, time_scale=TIME_SCALE)
        self.board: Board = self.plant.board
        self.meter: Meter = self.plant.meter

    def plug_in(self) -> None:
        assert self.plant.controls.plug_in(max_current_a=MAX_CURRENT_A)

    def unplug(self) -> None:
        assert self.plant.controls.unplug()

    def flow(self, current_a: float) -> None:
        self.plant.controls.plug_in(max_current_a=MAX_CURRENT_A)
        self.board.set_pilot(PilotSignal.pwm(current_a))
        self.board.allow_power(True)

    def lose_comm(self) -> None:
        self.plant.controls.fault("board_comm")
        self.plant.controls.fault("meter_comm")

    def restore_comm(self) -> None:
        self.plant.controls.clear_fault()

    def stop(self) -> None:
        pass


def modbus_device(model_name: str, kind: Kind, server: DeviceServer, timeout_s: float = 1.0) -> ModbusDevice:
    model = load_model(model_name)
    return ModbusDevice(kind, model, parse_endpoint(server.endpoint), model.unit, 1, timeout_s, 0.1)


class ModbusRig:
    """A model's board and meter (or an SDM630 for a board-only model) on one played site."""

    def __init__(self, model_name: str, framing: str = "tcp") -> None:
        self.clock = FakeClock()
        self.site = Site(self.clock, TIME_SCALE)
        model = load_model(model_name)
        self._board: Board | None = None
        self.links: list[ModbusLink] = []
        if model.board:
            server = self.site.serve(model, ("board",), framing=framing)
            self.board_device = modbus_device(model_name, "board", server)
            caps = board_capabilities(self.board_device, MAX_CURRENT_A, 3)
            self._board = ModbusBoard(self.board_device, self._link(self.board_device), caps, self.clock)
        meter_name = model_name if model.meter else "eastron_sdm630"
        server = self.site.serve(load_model(meter_name), ("meter",), framing=framing)
        self.meter_device = modbus_device(meter_name, "meter", server)
        self.meter: Meter = ModbusMeter(self.meter_device, self._link(self.meter_device), self.clock)

    def _link(self, device: ModbusDevice) -> ModbusLink:
        self.links.append(ModbusLink(device.endpoint, device.timeout_s))
        return self.links[-1]

    @property
    def board(self) -> Board:
        assert self._board is not None, "this model has no board"
        return self._board

    def plug_in(self) -> None:
        self.site.car.plugged = True

    def unplug(self) -> None:
        self.site.car.plugged = False

    def flow(self, current_a: float) -> None:
        self.site.car.plugged = True
        self.site.written("current_limit_a", current_a)

    def lose_comm(self) -> None:
        self.site.faults.exception = ExcCodes.DEVICE_FAILURE

    def restore_comm(self) -> None:
        self.site.faults.exception = None

    def stop(self) -> None:
        for link in self.links:
            link.close()
        self.site.stop()


def make_rig(name: str) -> Rig:
    return SimRig() if name == "sim" else ModbusRig(name)
