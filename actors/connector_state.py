"""One connector's state that outlives its actors: the model, the reservation, the event log.

Actors come and go (crash, hang, restart); this object stays with the connector. Every
write goes through the writer's `Lease`, so a generation that was fenced off changes
nothing, and is written through to the connector's journal before memory changes: a
write the journal refuses (JournalWriteFailed) changes nothing here either. Session
events are numbered here, committed, then published in the same critical section, so
`event_seq` order is publication order and an event is never published unjournaled.
Memory keeps a small window of recent events; older ones are read from the journal.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.model import HardwareOutput, Model, Output, Reservation, StartReservation
from actors.ports import Journal, Publisher, ReplyKey, Restored
from actors.settings import ConnectorSettings
from drivers.base import MeterReading
from supervisor.tree import Lease

EVENT_LOG_SIZE = 10_000
JOURNALED_WINDOW = 256  # recent events kept in memory when a journal holds them all
REPLIES_IN_MEMORY = 10_000  # keyed replies kept without a journal (as many as a journal keeps at least)


@dataclass(frozen=True)
class LoggedEvent:
    event_seq: int
    ts: float
    value: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"event_seq": self.event_seq, "ts": self.ts, "value": self.value}


class ConnectorState:
    def __init__(
        self,
        settings: ConnectorSettings,
        publisher: Publisher,
        journal: Journal | None = None,
        on_recovered: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._publisher = publisher
        self._journal = journal
        self._on_recovered = on_recovered
        self._lock = threading.RLock()
        self.model = Model.initial(settings)
        self.reservation: Reservation | None = None
        self.applied_output: HardwareOutput | None = None
        self.last_reading: MeterReading | None = None
        self.last_limits: dict[str, Any] | None = None
        self.plug_count: int | None = None  # the board's plug counter at the last check
        self.recovering = False  # taken up from the journal, not yet reconciled with the board
        window = EVENT_LOG_SIZE if journal is None else JOURNALED_WINDOW
        self._events: deque[LoggedEvent] = deque(maxlen=window)
        self._last_event_seq = 0
        self.outbox: tuple[Output, ...] = ()  # what steps decided and was not carried out yet
        self._replies: dict[ReplyKey, Any] = {}  # without a journal: the stored replies, oldest first
        restored = journal.restore() if journal is not None else None
        if restored is not None:
            self._take_up(restored)

    def set_settings(self, settings: ConnectorSettings) -> None:
        """New settings for the decisions from now on (a reload); the index stays the same."""
        with self._lock:
            self.settings = settings

    def _take_up(self, restored: Restored) -> None:
        if restored.model is not None:
            self.model = restored.model
        self.reservation = restored.reservation
        self.outbox = restored.outbox
        self.last_reading = restored.last_reading
        self.plug_count = restored.plug_count
        self._last_event_seq = restored.last_event_seq
        self._events.extend(LoggedEvent(*row) for row in restored.recent_events)
        self.recovering = True

    def _write(
        self,
        fields: dict[str, Any],
        *,
        events: tuple[LoggedEvent, ...] = (),
        reply: tuple[ReplyKey, Any] | None = None,
        durable: bool = True,
    ) -> None:
        if self._journal is not None:
            rows = [(e.event_seq, e.ts, e.value) for e in events]
            self._journal.write(fields, rows, reply, durable=durable)
        elif reply is not None:
            key, value = reply
            self._replies[key] = value
            if len(self._replies) > REPLIES_IN_MEMORY:
                del self._replies[next(iter(self._replies))]

    def set_model(
        self,
        lease: Lease,
        model: Model,
        outbox: tuple[Output, ...] = (),
        reply: tuple[ReplyKey, Any] | None = None,
    ) -> None:
        """Write the model and the outputs its step still owes together, so a crash loses neither.

        With `reply`, the reply of the request that caused the change is committed with it.
        """
        with self._lock:
            lease.check()
            fields: dict[str, Any] = {"model": model}
            if outbox:
                fields["outbox"] = self.outbox + outbox
            self._write(fields, reply=reply)
            self.model = model
            self.outbox += outbox

    def store_reply(self, lease: Lease, key: ReplyKey, reply: Any) -> None:
        """Keep a request's reply in the journal, so a retry after any restart gets it."""
        with self._lock:
            lease.check()
            self._write({}, reply=(key, reply))

    def stored_reply(self, key: ReplyKey) -> tuple[Any] | None:
        """The reply stored for the request `key`, as `(reply,)`, once it took effect (its reply is
        committed with its change); None before. Read under the writers' lock, so a generation that
        was fenced while it wrote is seen to have written."""
        with self._lock:
            if self._journal is not None:
                return self._journal.reply(key)
            return (self._replies[key],) if key in self._replies else None

    def pop_output(self, lease: Lease) -> None:
        """The oldest output of the outbox was carried out."""
        with self._lock:
            lease.check()
            self._write({"outbox": self.outbox[1:]})
            self.outbox = self.outbox[1:]

    def set_applied_output(self, lease: Lease, output: HardwareOutput | None) -> None:
        with self._lock:
            lease.check()
            self.applied_output = output

    def set_plug_count(self, lease: Lease, plug_count: int | None) -> None:
        with self._lock:
            lease.check()
            if plug_count != self.plug_count:
                self._write({"plug_count": plug_count})
                self.plug_count = plug_count

    def set_last_reading(self, lease: Lease, reading: MeterReading) -> bool:
        """A meter checkpoint, journaled (without a sync of its own; the meter keeps its register)
        only when an energy register moved: an idle connector's readings write nothing.

        A reading whose import register is below the kept one is not kept; False (it is not
        to be published either) when it was also taken earlier: a stale one, such as a
        report that crossed a fresher call's reply after a restart. A register that went
        back in a later reading (a meter replaced) is still published.
        """
        with self._lock:
            lease.check()
            last = self.last_reading
            if last is not None and reading.energy_import_wh < last.energy_import_wh:
                return reading.timestamp >= last.timestamp
            if last is None or _registers(reading) != _registers(last):
                self._write({"last_reading": reading}, durable=False)
            self.last_reading = reading
            return True

    def finish_recovery(self, lease: Lease, reason: str) -> None:
        """The journal's state was reconciled with the board; tell it on `station/supervision`."""
        with self._lock:
            lease.check()
            if not self.recovering:
                return
            self.recovering = False
        if self._on_recovered is not None:
            self._on_recovered(reason)

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
        self,
        lease: Lease,
        ts: float,
        value: dict[str, Any],
        *,
        from_outbox: bool = False,
        fields: dict[str, Any] | None = None,
    ) -> int:
        """Number, journal, log and publish one session event; returns its event_seq.

        With `from_outbox` the event is the outbox's oldest output and leaves it in the same
        transaction, so a restart never publishes it twice; `fields` are other state
        written in that transaction.
        """
        with self._lock:
            lease.check()
            event = LoggedEvent(self._last_event_seq + 1, ts, value)
            changes = dict(fields or {})
            if from_outbox:
                changes["outbox"] = self.outbox[1:]
            self._write(changes, events=(event,))
            if from_outbox:
                self.outbox = self.outbox[1:]
            if "reservation" in changes:
                self.reservation = changes["reservation"]
            self._last_event_seq = event.event_seq
            self._events.append(event)
            self._publisher.publish("session_events", value, event_seq=event.event_seq)
            return event.event_seq

    def start_reservation(
        self, lease: Lease, output: StartReservation, ts: float, value: dict[str, Any]
    ) -> bool:
        """ReservationStart (`value`) for the outbox's oldest output, the reservation kept and the
        output gone, in one transaction; False, and nothing done, once it is no longer the oldest
        (carried out already: by another generation, or before a crash)."""
        with self._lock:
            lease.check()
            if not self.outbox or self.outbox[0] != output:
                return False
            self.publish_event(lease, ts, value, from_outbox=True, fields={"reservation": output.reservation})
            return True

    def end_reservation(self, lease: Lease, reason: str, ts: float) -> bool:
        """End the reservation, if any, and publish ReservationEnd with the reason; atomic."""
        with self._lock:
            lease.check()
            reservation = self.reservation
            if reservation is None:
                return False
            value = {
                "uuid": self.model.session_uuid,
                "event": "ReservationEnd",
                "reservation_end": {"reason": reason, "reservation_id": reservation.reservation_id},
            }
            self.publish_event(lease, ts, value, fields={"reservation": None})
            return True

    def events_in_memory(self, since: int) -> bool:
        """The events after `since` are all in memory: answered at once, without the journal."""
        with self._lock:
            last = self._last_event_seq
            oldest_kept = self._events[0].event_seq if self._events else last + 1
            return self._journal is None or since + 1 >= oldest_kept or since >= last

    def events_since(self, since: int, limit: int = EVENT_LOG_SIZE) -> dict[str, Any]:
        """The events after `since` (at most `limit`): from memory when its window holds them all."""
        with self._lock:
            last = self._last_event_seq
            if self.events_in_memory(since):
                newer = max(0, min(last - since, len(self._events), limit))  # event_seq has no gaps
                latest = list(itertools.islice(reversed(self._events), newer))
                return {"events": [e.to_wire() for e in reversed(latest)], "last_event_seq": last}
        journal = self._journal
        assert journal is not None  # events_in_memory is True without one
        rows = journal.events_since(since, min(limit, last - since))
        return {"events": [LoggedEvent(*row).to_wire() for row in rows], "last_event_seq": last}


def _registers(reading: MeterReading) -> tuple[float, float, str]:
    """What a checkpoint keeps for recovery: the energy registers (and whose they are)."""
    return (reading.energy_import_wh, reading.energy_export_wh, reading.meter_id)
