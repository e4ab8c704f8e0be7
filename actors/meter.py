"""MeterActor: owns the meter driver; publishes `powermeter` and answers energy reads."""

from __future__ import annotations

from actors.base import ConnectorActor, ConnectorContext
from actors.messages import ReadMeter, SignReading, Tick
from drivers.base import Meter, MeterReading
from supervisor.tree import Lease


class MeterActor(ConnectorActor):
    role = "meter"
    handlers = {**ConnectorActor.handlers, Tick: "_tick", ReadMeter: "_read", SignReading: "_sign"}

    def __init__(self, ctx: ConnectorContext, lease: Lease) -> None:
        super().__init__(ctx, lease)
        self._next_publication_at = 0.0

    @property
    def meter(self) -> Meter:
        self.lease.check()
        return self.ctx.meter

    def next_tick_s(self) -> float:
        return self._next_publication_at

    def _tick(self, message: Tick) -> None:
        now = self.ctx.clock.monotonic()
        if now < self._next_publication_at:
            return
        self._next_publication_at = now + self.ctx.settings.meter_interval_s
        reading = self._read(ReadMeter())
        self.ctx.state.publish(self.lease, "powermeter", reading.to_payload())

    def _read(self, message: ReadMeter) -> MeterReading:
        reading = self.meter.reading()
        self.ctx.state.set_last_reading(self.lease, reading)
        return reading

    def _sign(self, message: SignReading) -> str:
        return self.meter.signed_reading(message.token, message.context)
