"""Carrying out what the charging table decided: each output of the outbox, by its kind.

The session actor's steps leave their outputs in the connector's outbox (`ConnectorState`);
`OutboxCarrier` carries them out oldest first, each by the method `carriers` names, and
each leaves the outbox once done, so a restart never carries one out twice: events are
published with their energy and signature, reservations stored and ended, the lock opened,
a phase switch begun.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import ClassVar

from actors.base import ASK_TIMEOUT_S, ConnectorActor
from actors.events import event_value, reading_context
from actors.messages import (
    EndReservationNow,
    PhasesSwitched,
    ReadMeter,
    SetLock,
    SignReading,
    StoreReservation,
    SwitchPhases,
)
from actors.model import Emit, EndReservation, PhaseSwitch, SessionEvent, StartReservation, Unlock
from drivers.base import MeterReading, ReadingContext

log = logging.getLogger(__name__)


class OutboxCarrier(ConnectorActor):
    """The session actor's side that carries out the outbox (its base class)."""

    carriers: ClassVar[dict[type, str]] = {  # how each output of a step is carried out
        Emit: "_publish_event",
        StartReservation: "_store_reservation",
        EndReservation: "_end_reservation",
        Unlock: "_unlock",
        PhaseSwitch: "_switch_phases",
    }

    def _deliver_outbox(self) -> bool | None:
        """Carry out what the steps decided, oldest first, each by the method `carriers` names;
        each output leaves the outbox once done. Returns whether the lock opened when an
        `Unlock` was carried out, else None."""
        state, done = self.ctx.state, {}
        while state.outbox:
            output = state.outbox[0]
            done[type(output)] = getattr(self, self.carriers[type(output)])(output)
        return done.get(Unlock)

    def _store_reservation(self, output: StartReservation) -> None:
        """The reservation actor takes the output out of the outbox with its ReservationStart."""
        self.ctx.peers.ask("reservation", StoreReservation(output.reservation), ASK_TIMEOUT_S)

    def _end_reservation(self, output: EndReservation) -> None:
        self.ctx.peers.ask("reservation", EndReservationNow(output.reason), ASK_TIMEOUT_S)
        self.ctx.state.pop_output(self.lease)

    def _unlock(self, output: Unlock) -> bool:
        """Whether the lock opened; not when the hardware actor could not be reached."""
        try:
            unlocked = bool(self.ctx.peers.ask("hardware", SetLock(False), ASK_TIMEOUT_S))
        except Exception as exc:  # noqa: BLE001 - a lock that did not open is the answer
            log.warning("evse %d: could not unlock: %r", self.ctx.settings.index, exc)
            unlocked = False
        self.ctx.state.pop_output(self.lease)
        return unlocked

    def _switch_phases(self, output: PhaseSwitch) -> None:
        self._begin_phase_switch(output.three_phases)
        self.ctx.state.pop_output(self.lease)

    def _begin_phase_switch(self, three_phases: bool) -> None:
        """The hardware answers at once and tells `PhasesSwitched` when the switch ended."""
        try:
            self.ctx.peers.ask("hardware", SwitchPhases(three_phases), ASK_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a board that fails is Error_Hardware, not a crash
            log.warning("evse %d: phase switch failed: %r", self.ctx.settings.index, exc)
            self.actor_ref.tell(PhasesSwitched("Error_Hardware", self.ctx.state.model.three_phases))

    def _publish_event(self, emit: Emit) -> None:
        """Publish the outbox's oldest output, an event, with timestamp and energy where it has them."""
        now = self.ctx.clock.time()
        context = reading_context(emit)
        if emit.event is SessionEvent.ChargingStarted:
            self._keep_begin_reading(emit)
        if context is None:
            value = event_value(emit, now, None)
        else:
            reading = self._reading()
            value = event_value(emit, now, reading, self._signed(emit.token, context))
            if emit.event is SessionEvent.SessionStarted:
                self._keep_start_energy(emit.uuid, reading.energy_import_wh)
        self.ctx.state.publish_event(self.lease, now, value, from_outbox=True)

    def _keep_start_energy(self, session_uuid: str, energy_wh: float) -> None:
        model = self.ctx.state.model
        if model.session is not None and model.session.uuid == session_uuid:
            session = replace(model.session, start_energy_wh=energy_wh)
            self.ctx.state.set_model(self.lease, replace(model, session=session))

    def _keep_begin_reading(self, emit: Emit) -> None:
        """The transaction's begin reading, signed with the token as the session is authorized."""
        model = self.ctx.state.model
        if model.session is not None and model.session.uuid == emit.uuid:
            signed = self._signed(emit.token, "B")
            session = replace(model.session, begin_signed_meter_value=signed)
            self.ctx.state.set_model(self.lease, replace(model, session=session))

    def _reading(self) -> MeterReading:
        try:
            reading: MeterReading = self.ctx.peers.ask("meter", ReadMeter(), ASK_TIMEOUT_S)
            return reading
        except Exception as exc:
            log.warning(
                "evse %d: meter read failed, using the last reading: %r", self.ctx.settings.index, exc
            )
            last = self.ctx.state.last_reading
            if last is None:
                raise
            return last

    def _signed(self, token: str | None, context: ReadingContext) -> str | None:
        try:
            signed: str = self.ctx.peers.ask("meter", SignReading(token, context), ASK_TIMEOUT_S)
            return signed or None  # "": a meter that cannot sign
        except Exception as exc:  # noqa: BLE001 - an event without a signature beats no event
            log.warning("evse %d: signing failed: %r", self.ctx.settings.index, exc)
            return None
