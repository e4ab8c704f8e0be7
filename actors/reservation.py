"""ReservationActor: owns the connector's one reservation and its expiry timer."""

from __future__ import annotations

from actors.base import ConnectorActor
from actors.messages import EndReservationNow, StoreReservation, Tick
from actors.model import SessionEvent, StartReservation


class ReservationActor(ConnectorActor):
    role = "reservation"
    handlers = {
        **ConnectorActor.handlers,
        Tick: "_tick",
        StoreReservation: "_store",
        EndReservationNow: "_end",
    }

    def next_tick_s(self) -> float | None:
        """At the reservation's expiry (a wall-clock time, on the monotonic clock)."""
        reservation = self.ctx.state.reservation
        if reservation is None:
            return None
        clock = self.ctx.clock
        return clock.monotonic() + max(0.0, reservation.expiry_time - clock.time())

    def _tick(self, message: Tick) -> None:
        reservation = self.ctx.state.reservation
        if reservation is not None and self.ctx.clock.time() >= reservation.expiry_time:
            self._end(EndReservationNow("Expired"))

    def _store(self, message: StoreReservation) -> None:
        """Keep the reservation the session's step accepted and publish ReservationStart, taking the
        outbox's StartReservation out in the same transaction (`ConnectorState.start_reservation`):
        a crash between them (a worker's SIGKILL) never leaves the output to be carried out, and the
        reservation started, again; a StoreReservation carried out already changes nothing."""
        state = self.ctx.state
        value = {
            "uuid": state.model.session_uuid,
            "event": SessionEvent.ReservationStart.value,
            "reservation_start": message.reservation.start_payload(),
        }
        state.start_reservation(
            self.lease, StartReservation(message.reservation), self.ctx.clock.time(), value
        )

    def _end(self, message: EndReservationNow) -> bool:
        return self.ctx.state.end_reservation(self.lease, message.reason, self.ctx.clock.time())
