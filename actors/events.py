"""The payload of a session event, from what a step decided (`Emit`) and the meter's reading."""

from __future__ import annotations

from typing import Any

from actors.model import Emit, SessionEvent
from drivers.base import MeterReading, ReadingContext

ENERGY_EVENTS: dict[SessionEvent, tuple[str, ReadingContext]] = {
    SessionEvent.SessionStarted: ("session_started", "B"),
    SessionEvent.SessionFinished: ("session_finished", "E"),
    SessionEvent.SessionCancelled: ("session_cancelled", "T"),
}
"""Events that carry the energy: their payload key and the OCMF reading context of their signature."""


def reading_context(emit: Emit) -> ReadingContext | None:
    """The context of the signed reading `emit` carries; None when it carries no energy."""
    energy = ENERGY_EVENTS.get(emit.event)
    return energy[1] if energy is not None else None


def event_value(
    emit: Emit, now: float, reading: MeterReading | None, signed: str | None = None
) -> dict[str, Any]:
    """The `session_events` value; energy events take the reading (0 Wh without one)."""
    value: dict[str, Any] = {"uuid": emit.uuid, "event": emit.event.value}
    energy = ENERGY_EVENTS.get(emit.event)
    if energy is not None:
        details: dict[str, Any] = {"timestamp": now}
        details["energy_Wh_import"] = reading.energy_import_wh if reading is not None else 0.0
        if reading is not None:
            details["energy_Wh_export"] = reading.energy_export_wh
        if signed is not None:
            details["signed_meter_value"] = signed
        if emit.reservation_id is not None:
            details["reservation_id"] = emit.reservation_id
        if emit.reason is not None:
            details["reason"] = emit.reason
        value[energy[0]] = details
    if emit.error is not None:
        value["error"] = emit.error.value
    return value
