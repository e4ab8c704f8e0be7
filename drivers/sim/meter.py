"""SimMeter: the meter driver over the simulated energy register, with OCMF signing."""

from __future__ import annotations

import pathlib

from drivers.base import Meter, MeterReading, ReadingContext
from drivers.sim.hardware import VOLTAGE_V, SimHardware
from drivers.sim.ocmf import load_or_create_key, ocmf_payload, public_key_pem, sign_ocmf

METER_MODEL = "evse-supervisor SimMeter"


class SimMeter(Meter):
    """A signing meter whose every method raises DriverError while `meter_comm` is active."""

    def __init__(self, hardware: SimHardware, meter_id: str, key_path: pathlib.Path | None = None) -> None:
        self._hw = hardware
        self.meter_id = meter_id
        self._key = load_or_create_key(key_path)
        self._signed_count = 0

    def reading(self) -> MeterReading:
        self._hw.check_comm("meter_comm")
        snap = self._hw.snapshot()
        currents = snap.currents_a
        return MeterReading(
            timestamp=self._hw.clock.time(),
            meter_id=self.meter_id,
            energy_import_wh=snap.energy_wh,
            power_w=(currents[0] * VOLTAGE_V, currents[1] * VOLTAGE_V, currents[2] * VOLTAGE_V),
            voltage_v=(VOLTAGE_V, VOLTAGE_V, VOLTAGE_V),
            current_a=currents,
        )

    def signed_reading(self, token: str | None, context: ReadingContext) -> str:
        with self._hw.lock:
            self._hw.check_comm("meter_comm")
            snap = self._hw.snapshot()
            self._signed_count += 1
            payload = ocmf_payload(
                model=METER_MODEL,
                serial=self.meter_id,
                paging=self._signed_count,
                token=token,
                context=context,
                unix_s=self._hw.clock.time(),
                energy_wh=snap.energy_wh,
            )
        return sign_ocmf(self._key, payload)

    def public_key_pem(self) -> str | None:
        self._hw.check_comm("meter_comm")
        return public_key_pem(self._key)
