"""One configured Modbus device: its model, where it is, and how long a request may take."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.modbus.endpoint import Endpoint
from drivers.modbus.model import DeviceModel, Kind, read_blocks

LIMIT_REFRESH_S = 0.5  # a controller's current limit is written again at least this often
_WRITES = {"board": 2, "meter": 0}  # the most writes one call makes: the limit refresh, and enable


@dataclass(frozen=True)
class ModbusDevice:
    """A board or a meter on Modbus, as the configuration names it."""

    kind: Kind
    model: DeviceModel
    endpoint: Endpoint
    unit: int
    connector: int = 1  # for controllers of several connectors: registers offset by model.connector_offset
    timeout_s: float = 0.5  # one request
    poll_interval_s: float = 0.1  # a board is read at most this often

    @property
    def offset(self) -> int:
        return self.model.connector_offset * self.connector

    def requests_per_call(self) -> int:
        """The most requests one driver call makes: a poll's reads and the writes it may add."""
        writes = _WRITES[self.kind] if "enable" in self.model.board else min(1, _WRITES[self.kind])
        return len(read_blocks(self.model, self.kind, self.offset)) + writes

    def longest_call_s(self) -> float:
        return self.requests_per_call() * self.timeout_s
