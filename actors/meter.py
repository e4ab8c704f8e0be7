"""MeterActor: owns the meter driver; publishes `powermeter` and answers energy reads.

A meter that reports by itself (the plant's) sends its reading every meter interval and is
read on a timer only when a report is a whole interval late; any other is read on a timer.
Energy reads (`ReadMeter`) always ask the meter.
"""

from __future__ import annotations

from functools import partial

from actors.base import ConnectorActor, ConnectorContext
from actors.messages import ReadMeter, Reported, SignReading, Tick
from drivers.base import Meter, MeterReading
from supervisor.tree import Lease


class MeterActor(ConnectorActor):
    role = "meter"
    handlers = {
        **ConnectorActor.handlers,
        Tick: "_tick",
        Reported: "_reported",
        ReadMeter: "_read",
        SignReading: "_sign",
    }

    def __init__(self, ctx: ConnectorContext, lease: Lease) -> None:
        super().__init__(ctx, lease)
        self._next_publication_at = 0.0
        self._reports = False  # the meter sends its readings by itself (Reported)

    @property
    def meter(self) -> Meter:
        self.lease.check()
        return self.ctx.meter

    def on_start(self) -> None:
        interval_s = self.ctx.settings.meter_interval_s
        self._reports = self.ctx.meter.on_report(
            interval_s, partial(self.ctx.peers.tell, "meter", Reported())
        )

    def next_tick_s(self) -> float:
        """The next publication; with reports, once the next one is a whole interval late."""
        if self._reports:
            return self._next_publication_at + self.ctx.settings.meter_interval_s
        return self._next_publication_at

    def _tick(self, message: Tick) -> None:
        now = self.ctx.clock.monotonic()
        if now < self._next_publication_at:
            return
        self._next_publication_at = now + self.ctx.settings.meter_interval_s
        self._publish(self.meter.reading())

    def _reported(self, message: Reported) -> None:
        reading = self.meter.reported()
        self._next_publication_at = self.ctx.clock.monotonic() + self.ctx.settings.meter_interval_s
        self._publish(reading)

    def _publish(self, reading: MeterReading) -> None:
        """Kept as the checkpoint and published, unless older than the one kept (its energy would
        go back on `powermeter`)."""
        if self.ctx.state.set_last_reading(self.lease, reading):
            self.ctx.state.publish(self.lease, "powermeter", reading.to_payload())

    def _read(self, message: ReadMeter) -> MeterReading:
        reading = self.meter.reading()
        self.ctx.state.set_last_reading(self.lease, reading)
        return reading

    def _sign(self, message: SignReading) -> str:
        return self.meter.signed_reading(message.token, message.context)
