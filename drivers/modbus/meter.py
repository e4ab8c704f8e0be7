"""ModbusMeter: a power meter read over Modbus; it cannot sign, and its energy never goes back."""

from __future__ import annotations

import logging

from drivers.base import Meter, MeterReading, ReadingContext
from drivers.clock import Clock
from drivers.modbus.link import ModbusLink
from drivers.modbus.poller import Poller
from drivers.modbus.settings import ModbusDevice

log = logging.getLogger(__name__)

VOLTAGE_V = 230.0  # shown when the model has no voltage register


class ModbusMeter(Meter):
    def __init__(self, device: ModbusDevice, link: ModbusLink, clock: Clock) -> None:
        self._poller = Poller(device, link)
        self._clock = clock
        self._meter_id = f"{device.model.name}@{device.endpoint}/{device.unit}"
        self._import_wh: float | None = None
        self._export_wh = 0.0

    def reading(self) -> MeterReading:
        p = self._poller
        p.poll()
        currents = p.numbers("currents_a", (0.0, 0.0, 0.0))
        voltages = p.numbers("voltages_v", (VOLTAGE_V, VOLTAGE_V, VOLTAGE_V))
        return MeterReading(
            timestamp=self._clock.time(),
            meter_id=self._meter_id,
            energy_import_wh=self._import(p.number("energy_import_wh")),
            energy_export_wh=self._export(p.number("energy_export_wh")),
            power_w=self._power(voltages, currents),
            voltage_v=(voltages[0], voltages[1], voltages[2]),
            current_a=(currents[0], currents[1], currents[2]),
            frequency_hz=p.number("frequency_hz", 50.0),
        )

    def signed_reading(self, token: str | None, context: ReadingContext) -> str:
        return ""  # this meter cannot sign

    def public_key_pem(self) -> str | None:
        return None

    def _import(self, energy_wh: float) -> float:
        """The energy register never goes backwards: a smaller reading is refused and logged."""
        if self._import_wh is not None and energy_wh < self._import_wh:
            log.warning(
                "%s: energy %.1f Wh below %.1f Wh refused", self._poller.name, energy_wh, self._import_wh
            )
            return self._import_wh
        self._import_wh = energy_wh
        return energy_wh

    def _export(self, energy_wh: float) -> float:
        self._export_wh = max(self._export_wh, energy_wh)
        return self._export_wh

    def _power(self, voltages: tuple[float, ...], currents: tuple[float, ...]) -> tuple[float, float, float]:
        p = self._poller
        if p.has("power_w"):
            l1, l2, l3 = p.numbers("power_w", (0.0, 0.0, 0.0))
            return (l1, l2, l3)
        if p.has("power_total_w"):  # one total: spread over the phases by their currents
            total_w, drawn_a = p.number("power_total_w"), sum(currents)
            if drawn_a <= 0.0:
                return (total_w, 0.0, 0.0)
            return (
                total_w * currents[0] / drawn_a,
                total_w * currents[1] / drawn_a,
                total_w * currents[2] / drawn_a,
            )
        return (voltages[0] * currents[0], voltages[1] * currents[1], voltages[2] * currents[2])
