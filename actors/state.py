"""One connector's state that outlives its actors: the model, the reservation, the event log.

Actors come and go (crash, hang, restart); this object stays with the connector. Every
write goes through the writer's `Lease`, so a generation that was fenced off changes
nothing. Session events are numbered here and published in the same critical section,
so `event_seq` order is publication order.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from actors.model import HardwareOutput, Model, Output, Reservation
from actors.ports import Publisher
from actors.settings import ConnectorSettings
from drivers.base import MeterReading
from supervisor.tree import Lease

EVENT_LOG_SIZE = 10_000


@dataclass(frozen=True)
class LoggedEvent:
    event_seq: int
    ts: float
    value: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"event_seq": self.event_seq, "ts": self.ts, "value": self.value}


class ConnectorState:
    def __init__(self, settings: ConnectorSettings, publisher: Publisher) -> None:
        self.settings = settings
        self._publisher = publisher
        self._lock = threading.RLock()
        self.model = Model.initial(settings)
        self.reservation: Reservation | None = None
        self.applied_output: HardwareOutput | None = None
        self.last_reading: MeterReading | None = None
        self.last_limits: dict[str, Any] | None = None
        self._events: deque[LoggedEvent] = deque(maxlen=EVENT_LOG_SIZE)
        self._last_event_seq = 0
        self.outbox: tuple[Output, ...] = ()  # what steps decided and was not carried out yet

    def set_model(self, lease: Lease, model: Model, outbox: tuple[Output, ...] = ()) -> None:
        """Write the model and the outputs its step still owes together, so a crash loses neither."""
        with self._lock:
            lease.check()
            self.model = model
            self.outbox += outbox

    def pop_output(self, lease: Lease) -> None:
        """The oldest output of the outbox was carried out."""
        with self._lock:
            lease.check()
            self.outbox = self.outbox[1:]

    def set_reservation(self, lease: Lease, reservation: Reservation | None) -> None:
        with self._lock:
            lease.check()
            self.reservation = reservation

    def set_applied_output(self, lease: Lease, output: HardwareOutput | None) -> None:
        with self._lock:
            lease.check()
            self.applied_output = output

    def set_last_reading(self, lease: Lease, reading: MeterReading) -> None:
        with self._lock:
            lease.check()
            if self.last_reading is None or reading.energy_import_wh >= self.last_reading.energy_import_wh:
                self.last_reading = reading

    def publish(self, lease: Lease, variable: str, value: Any) -> None:
        """Publish a variable other than session_events (fenced like every write)."""
        with self._lock:
            lease.check()
            self._publisher.publish(variable, value)

    def publish_limits(self, lease: Lease, limits: dict[str, Any]) -> None:
        """Publish `limits` when it changed since the last publication."""
        with self._lock:
            lease.check()
            if limits != self.last_limits:
                self.last_limits = limits
                self._publisher.publish("limits", limits)

    def publish_event(
        self, lease: Lease, ts: float, value: dict[str, Any], *, from_outbox: bool = False
    ) -> int:
        """Number, log and publish one session event; returns its event_seq.

        With `from_outbox` the event is the outbox's oldest output and leaves it in the same
        step, so a restart never publishes it twice.
        """
        with self._lock:
            lease.check()
            if from_outbox:
                self.outbox = self.outbox[1:]
            self._last_event_seq += 1
            self._events.append(LoggedEvent(self._last_event_seq, ts, value))
            self._publisher.publish("session_events", value, event_seq=self._last_event_seq)
            return self._last_event_seq

    def end_reservation(self, lease: Lease, reason: str, ts: float) -> bool:
        """End the reservation, if any, and publish ReservationEnd with the reason; atomic."""
        with self._lock:
            lease.check()
            reservation = self.reservation
            if reservation is None:
                return False
            self.reservation = None
            value = {
                "uuid": self.model.session_uuid,
                "event": "ReservationEnd",
                "reservation_end": {"reason": reason, "reservation_id": reservation.reservation_id},
            }
            self.publish_event(lease, ts, value)
            return True

    def events_since(self, since: int) -> dict[str, Any]:
        with self._lock:
            newer = max(0, min(self._last_event_seq - since, len(self._events)))  # event_seq has no gaps
            latest = list(itertools.islice(reversed(self._events), newer))
            events = [e.to_wire() for e in reversed(latest)]
            return {"events": events, "last_event_seq": self._last_event_seq}
