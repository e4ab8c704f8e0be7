"""Boards and meters on Modbus (TCP, RTU over TCP, RTU on a serial port), described by device models."""

from drivers.modbus.board import ModbusBoard, board_capabilities
from drivers.modbus.endpoint import Endpoint, parse_endpoint
from drivers.modbus.link import ModbusLink
from drivers.modbus.meter import ModbusMeter
from drivers.modbus.model import (
    BOARD_VALUES,
    FUNCTIONS,
    METER_VALUES,
    TYPES,
    VALUES,
    WORDS,
    DeviceModel,
    Register,
)
from drivers.modbus.settings import ModbusDevice

__all__ = [
    "BOARD_VALUES",
    "FUNCTIONS",
    "METER_VALUES",
    "TYPES",
    "VALUES",
    "WORDS",
    "DeviceModel",
    "Endpoint",
    "ModbusBoard",
    "ModbusDevice",
    "ModbusLink",
    "ModbusMeter",
    "Register",
    "board_capabilities",
    "parse_endpoint",
]
