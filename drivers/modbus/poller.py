"""A device's values as the last poll left them: good readings kept, invalid ones read again.

A value the device marks invalid keeps its last good reading and is read again at the next
poll; one that stays invalid for `INVALID_POLLS_MAX` polls in a row is a `DriverError`: never
a zero. A value invalid at the first poll is absent if the contract can do without it (a
Bender without a meter reads 0xFFFFFFFF for its power: the capability is missing, not zero),
and a `DriverError` if the contract needs it.
"""

from __future__ import annotations

from drivers.base import DriverError
from drivers.modbus.link import ModbusLink
from drivers.modbus.model import VALUES, Register, read_blocks
from drivers.modbus.reader import Raw, read_values, scaled
from drivers.modbus.settings import ModbusDevice

INVALID_POLLS_MAX = 3


class Poller:
    """Reads one device's `kind` registers and keeps the last good value of each."""

    def __init__(self, device: ModbusDevice, link: ModbusLink) -> None:
        self.device = device
        self.link = link
        self.registers: dict[str, Register] = device.model.registers(device.kind)
        self._blocks = read_blocks(device.model, device.kind, device.offset)
        self._last: dict[str, tuple[Raw, ...]] = {}
        self._invalid_polls: dict[str, int] = {}
        self._absent: set[str] = set()  # optional values the device has not had since the start
        self._polls = 0

    @property
    def name(self) -> str:
        d = self.device
        return f"{d.model.name} at {d.endpoint} unit {d.unit}"

    def poll(self) -> None:
        """Read every block once; DriverError when a value has no good reading to keep."""
        values = read_values(self.link, self.device.unit, self._blocks)
        first, self._polls = self._polls == 0, self._polls + 1
        for name, items in values.raw.items():
            self._last[name] = items
            self._invalid_polls[name] = 0
            self._absent.discard(name)
        for name in values.invalid:
            if name in self._absent or (first and not VALUES[self.device.kind][name].required):
                self._absent.add(name)
                continue
            polls = self._invalid_polls.get(name, 0) + 1
            self._invalid_polls[name] = polls
            if name not in self._last or polls >= INVALID_POLLS_MAX:
                raise DriverError(f"{self.name}: {name} read invalid {polls} time(s) in a row")

    def has(self, name: str) -> bool:
        """The model has the value and the device has shown it (or not yet been asked)."""
        return name in self.registers and name not in self._absent

    def raw(self, name: str) -> tuple[Raw, ...]:
        return self._last[name]

    def number(self, name: str, default: float = 0.0) -> float:
        """The value in the contract's unit (its first item); `default` when the model has none."""
        return self.numbers(name, (default,))[0]

    def numbers(self, name: str, default: tuple[float, ...]) -> tuple[float, ...]:
        if not self.has(name):
            return default
        return scaled(self.registers[name], self._last[name])

    def meaning(self, name: str) -> str | None:
        """A coded value's meaning, None when the model has no such register."""
        if not self.has(name):
            return None
        return self.registers[name].meaning(self._last[name][0])

    def write(self, name: str, value: float) -> None:
        """Write a value in the contract's unit (rounded down to the register's resolution)."""
        reg = self.registers[name]
        raw = int(round(value / reg.scale, 6))
        self.link.write(reg.address + self.device.offset, [raw], self.device.unit)
