"""ReservationActor: owns the connector's one reservation and its expiry timer."""

from __future__ import annotations

from typing import Any

from actors.base import ConnectorActor
from actors.messages import EndReservationNow, StoreReservation, Tick
from actors.model import Reservation, SessionEvent, State

_UNAVAILABLE_STATES = {State.Disabled: "Unavailable", State.Faulted: "Faulted", State.Error: "Faulted"}
_OCCUPIED_STATES = frozenset(
    {
        State.WaitingForAuthentication,
        State.ChargingPausedEV,
        State.Charging,
        State.ChargingPausedEVSE,
        State.Finished,
    }
)


def reservation_verdict(
    state: State,
    plugged: bool,
    expiry_time: float,
    now: float,
    current: Reservation | None,
    reservation_id: int,
) -> str | None:
    """The ReservationResult of reserve_now in the contract's order, or None when it may be accepted."""
    if state in _UNAVAILABLE_STATES:
        return _UNAVAILABLE_STATES[state]
    if expiry_time <= now:
        return "Rejected"
    if plugged or state in _OCCUPIED_STATES:
        return "Occupied"
    if current is not None and current.reservation_id != reservation_id:
        return "Occupied"
    return None


class ReservationActor(ConnectorActor):
    role = "reservation"
    handlers = {
        **ConnectorActor.handlers,
        Tick: "_tick",
        StoreReservation: "_store",
        EndReservationNow: "_end",
    }

    def _tick(self, message: Tick) -> None:
        reservation = self.ctx.state.reservation
        if reservation is not None and self.ctx.clock.time() >= reservation.expiry_time:
            self._end(EndReservationNow("Expired"))

    def _store(self, message: StoreReservation) -> str:
        current = self.ctx.state.reservation
        if current is not None and current.reservation_id != message.reservation.reservation_id:
            return "Occupied"
        self.ctx.state.set_reservation(self.lease, message.reservation)
        self._publish(
            SessionEvent.ReservationStart, {"reservation_start": message.reservation.start_payload()}
        )
        return "Accepted"

    def _end(self, message: EndReservationNow) -> bool:
        return self.ctx.state.end_reservation(self.lease, message.reason, self.ctx.clock.time())

    def _publish(self, event: SessionEvent, details: dict[str, Any]) -> None:
        value = {"uuid": self.ctx.state.model.session_uuid, "event": event.value, **details}
        self.ctx.state.publish_event(self.lease, self.ctx.clock.time(), value)
