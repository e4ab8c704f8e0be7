"""A Modbus device model as data: which register holds each value the contract needs.

A model file (YAML, read by the station's config loader) becomes a `DeviceModel`: for a
board and for a meter, each contract value (`BOARD_VALUES`, `METER_VALUES`) names its
0-based protocol address, function, type, word order, scale and, for codes, the meaning
of each raw value. `plan_blocks` turns the values one call needs into few contiguous reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Function = Literal["holding", "input", "coil"]
RegisterType = Literal["uint16", "int16", "uint32", "int32", "int64", "float32", "ascii"]
WordOrder = Literal["big", "little"]
Kind = Literal["board", "meter"]

FUNCTIONS: tuple[Function, ...] = ("holding", "input", "coil")
TYPES: tuple[RegisterType, ...] = ("uint16", "int16", "uint32", "int32", "int64", "float32", "ascii")
WORDS: dict[RegisterType, int] = {
    "uint16": 1,
    "int16": 1,
    "uint32": 2,
    "int32": 2,
    "int64": 4,
    "float32": 2,
    "ascii": 1,
}
MAX_BLOCK_WORDS = 125  # the most registers one read may ask for (Modbus application protocol)


@dataclass(frozen=True)
class ValueSpec:
    """What the contract needs of one value: its meaning, how many, whether it is written."""

    doc: str
    count: int = 1
    required: bool = False
    written: bool = False
    codes: tuple[str, ...] = ()  # the meanings a coded value may map its raw values to


CP_CODES = ("A", "B", "C", "D", "E", "F")
RELAY_CODES = ("off", "one_phase", "three_phases")
BOARD_VALUES: dict[str, ValueSpec] = {
    "cp_state": ValueSpec("control pilot state (A-F)", required=True, codes=CP_CODES),
    "current_limit_a": ValueSpec(
        "current limit the controller applies, A (0: no charging)", required=True, written=True
    ),
    "enable": ValueSpec("charging enabled (1) or not (0)", written=True),
    "relay_state": ValueSpec("relays as the controller reports them", codes=RELAY_CODES),
    "currents_a": ValueSpec("current per phase L1-L3, A", count=3),
}
METER_VALUES: dict[str, ValueSpec] = {
    "energy_import_wh": ValueSpec("imported energy, Wh", required=True),
    "energy_export_wh": ValueSpec("exported energy, Wh"),
    "power_w": ValueSpec("active power per phase L1-L3, W", count=3),
    "power_total_w": ValueSpec("total active power, W"),
    "voltages_v": ValueSpec("voltage per phase L1-L3, V", count=3),
    "currents_a": ValueSpec("current per phase L1-L3, A", count=3),
    "frequency_hz": ValueSpec("frequency, Hz"),
}
VALUES: dict[Kind, dict[str, ValueSpec]] = {"board": BOARD_VALUES, "meter": METER_VALUES}


@dataclass(frozen=True)
class Register:
    """Where one contract value lives: `count` consecutive items of `type` from `address`."""

    name: str
    address: int  # 0-based protocol address, before the per-connector offset
    function: Function = "holding"
    type: RegisterType = "uint16"
    count: int = 1
    words: int = 1  # registers per item (the type's size; an ascii text's length)
    word_order: WordOrder = "big"
    scale: float = 1.0  # raw x scale = the contract's unit
    codes: tuple[tuple[int | str, str], ...] = ()  # raw value -> meaning, for coded values
    invalid: tuple[int, ...] = ()  # raw values the device uses for "no valid value"

    @property
    def length(self) -> int:
        """Registers (or coils) it spans."""
        return self.count * self.words

    def meaning(self, raw: float | str) -> str | None:
        """The meaning of a coded raw value; None when the model gives it none."""
        return next((meaning for code, meaning in self.codes if code == raw), None)


@dataclass(frozen=True)
class DeviceModel:
    """One model file: its board and meter registers (either may be empty)."""

    name: str
    source: str  # the file it was read from
    unit: int = 1  # the Modbus unit id most devices of the model answer
    connector_offset: int = 0  # register offset per connector number (CHARX: 1000)
    max_gap: int = 0  # unused registers a read may span to join two values into one request
    board: dict[str, Register] = field(default_factory=dict)
    meter: dict[str, Register] = field(default_factory=dict)

    def registers(self, kind: Kind) -> dict[str, Register]:
        return self.board if kind == "board" else self.meter


@dataclass(frozen=True)
class Block:
    """One read request: `length` registers of `function` from `address` (offset applied)."""

    function: Function
    address: int
    length: int
    registers: tuple[Register, ...]


def plan_blocks(registers: list[Register], offset: int, max_gap: int) -> tuple[Block, ...]:
    """The fewest contiguous reads (at most `MAX_BLOCK_WORDS` each) that fetch every register."""
    blocks: list[Block] = []
    ordered = sorted(registers, key=lambda r: (r.function, r.address))
    for reg in ordered:
        start = reg.address + offset
        last = blocks[-1] if blocks else None
        if last is not None and last.function == reg.function:
            end = last.address + last.length
            joined = max(end, start + reg.length) - last.address
            if start - end <= max_gap and joined <= MAX_BLOCK_WORDS:
                blocks[-1] = Block(last.function, last.address, joined, (*last.registers, reg))
                continue
        blocks.append(Block(reg.function, start, reg.length, (reg,)))
    return tuple(blocks)


def read_blocks(model: DeviceModel, kind: Kind, offset: int) -> tuple[Block, ...]:
    """The reads of one poll of `kind`: every register that is not only written."""
    specs = VALUES[kind]
    readable = [r for name, r in model.registers(kind).items() if not specs[name].written]
    return plan_blocks(readable, offset, model.max_gap)
