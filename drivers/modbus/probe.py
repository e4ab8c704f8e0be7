"""Read every value of a configured device once: the first thing an integrator runs on a site."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import DriverError
from drivers.modbus.link import ModbusLink
from drivers.modbus.model import plan_blocks
from drivers.modbus.reader import decode, scaled
from drivers.modbus.settings import ModbusDevice


@dataclass(frozen=True)
class Probed:
    """One value as read: its meaning or numbers in the contract's unit, or why it could not be read."""

    name: str
    address: int  # with the connector's offset
    shown: str
    ok: bool


def probe(device: ModbusDevice, link: ModbusLink) -> list[Probed]:
    """Every register of the device's model (read and written ones), one block at a time, in address order."""
    registers = list(device.model.registers(device.kind).values())
    lines: list[Probed] = []
    for block in plan_blocks(registers, device.offset, device.model.max_gap):
        try:
            words = link.read(block.function, block.address, block.length, device.unit)
        except DriverError as exc:
            lines += [
                Probed(r.name, r.address + device.offset, f"not read: {exc}", False) for r in block.registers
            ]
            continue
        for reg in block.registers:
            start = reg.address - block.registers[0].address
            items = decode(reg, words[start : start + reg.length])
            if reg.codes:
                shown = ", ".join(f"{item!r} = {reg.meaning(item) or 'unknown code'}" for item in items)
            elif reg.type == "ascii":
                shown = repr(items[0])
            else:
                shown = (
                    ", ".join(f"{value:g}" for value in scaled(reg, items))
                    + f"  (raw {', '.join(map(str, items))})"
                )
            lines.append(Probed(reg.name, reg.address + device.offset, shown, True))
    return lines
