"""Reading a device's values: planned block reads, decoded by type, invalid values kept apart.

A value the device marks invalid (all bits set in an unsigned register, a value the model
lists as invalid, NaN) is never taken as a number: `Values.invalid` names it, and the
driver keeps its last good value and reads it again at the next poll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pymodbus.client import ModbusTcpClient

from drivers.modbus.link import ModbusLink
from drivers.modbus.model import Block, Register

Raw = int | float | str
_DATATYPE = ModbusTcpClient.DATATYPE
_TYPES = {
    "uint16": _DATATYPE.UINT16,
    "int16": _DATATYPE.INT16,
    "uint32": _DATATYPE.UINT32,
    "int32": _DATATYPE.INT32,
    "int64": _DATATYPE.INT64,
    "float32": _DATATYPE.FLOAT32,
    "ascii": _DATATYPE.STRING,
}
_ALL_ONES = {"uint16": 0xFFFF, "uint32": 0xFFFFFFFF}


@dataclass
class Values:
    """Raw values by register name; `invalid` lists the names whose reading was invalid."""

    raw: dict[str, tuple[Raw, ...]] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)


def read_values(link: ModbusLink, unit: int, blocks: tuple[Block, ...]) -> Values:
    """One request per block; every register of each block decoded."""
    values = Values()
    for block in blocks:
        words = link.read(block.function, block.address, block.length, unit)
        for reg in block.registers:
            start = reg.address - block.registers[0].address  # the block starts at its first register
            items = decode(reg, words[start : start + reg.length])
            if any(not _valid(reg, item) for item in items):
                values.invalid.append(reg.name)
            else:
                values.raw[reg.name] = items
    return values


def decode(reg: Register, words: list[int]) -> tuple[Raw, ...]:
    """The register's `count` items from its words (coils: 0 or 1 each)."""
    if reg.function == "coil":
        return tuple(words)
    items: list[Raw] = []
    for index in range(reg.count):
        chunk = words[index * reg.words : (index + 1) * reg.words]
        value = ModbusTcpClient.convert_from_registers(chunk, _TYPES[reg.type], word_order=reg.word_order)
        if isinstance(value, str):
            value = value.strip("\x00 ")
        elif not isinstance(value, int | float):
            raise TypeError(f"{reg.name}: {reg.type} decoded as {type(value).__name__}")
        items.append(value)
    return tuple(items)


def _valid(reg: Register, item: Raw) -> bool:
    if isinstance(item, float) and not math.isfinite(item):
        return False
    if isinstance(item, int) and (item in reg.invalid or item == _ALL_ONES.get(reg.type)):
        return False
    return not (reg.codes and reg.meaning(item) is None)


def scaled(reg: Register, items: tuple[Raw, ...]) -> tuple[float, ...]:
    """Numeric items in the contract's unit."""
    return tuple(float(item) * reg.scale for item in items if not isinstance(item, str))
