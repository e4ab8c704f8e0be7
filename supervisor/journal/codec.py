"""A connector's state as JSON for the journal, and back.

Times that must survive a reboot are wall-clock (the pre-authorization's expiry is kept
in Unix seconds and turned back into this process's monotonic time when read); timers
that only make sense in one process (the over-current rule's start) are not kept.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from actors.model import (
    Emit,
    EndReservation,
    Error,
    Model,
    Output,
    PhaseSwitch,
    PreAuth,
    Reservation,
    Session,
    SessionEvent,
    StartReservation,
    Unlock,
)
from drivers.base import CPState, MeterReading
from drivers.clock import Clock


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _known(cls: type, record: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in record.items() if k in names}


def model_record(model: Model, clock: Clock) -> dict[str, Any]:
    record = dataclasses.asdict(model)
    record["errors"] = sorted(e.value for e in model.errors)
    record["overdraw_since"] = None
    if model.pre_auth is not None:
        wall = model.pre_auth.expires_at - clock.monotonic() + clock.time()
        record["pre_auth"] = {**record["pre_auth"], "expires_at": wall}
    if model.allocation_until is not None:  # the station allocation's hold, as a wall-clock time
        record["allocation_until"] = model.allocation_until - clock.monotonic() + clock.time()
    return record


def model_from(record: dict[str, Any], clock: Clock) -> Model:
    fields = _known(Model, record)
    fields["cp"] = CPState(fields.get("cp", "A"))
    fields["errors"] = frozenset(Error(e) for e in fields.get("errors", ()))
    fields["last_currents_a"] = tuple(fields.get("last_currents_a", (0.0, 0.0, 0.0)))
    if fields.get("session") is not None:
        fields["session"] = Session(**_known(Session, fields["session"]))
    if fields.get("pre_auth") is not None:
        pre = _known(PreAuth, fields["pre_auth"])
        pre["expires_at"] = pre["expires_at"] - clock.time() + clock.monotonic()
        fields["pre_auth"] = PreAuth(**pre)
    if fields.get("allocation_until") is not None:
        fields["allocation_until"] = fields["allocation_until"] - clock.time() + clock.monotonic()
    return Model(**fields)


def reservation_record(reservation: Reservation | None) -> dict[str, Any] | None:
    return None if reservation is None else dataclasses.asdict(reservation)


def reservation_from(record: dict[str, Any] | None) -> Reservation | None:
    return None if record is None else Reservation(**_known(Reservation, record))


def outbox_record(outbox: tuple[Output, ...]) -> list[dict[str, Any]]:
    return [{"kind": type(output).__name__, **dataclasses.asdict(output)} for output in outbox]


def outbox_from(records: list[dict[str, Any]]) -> tuple[Output, ...]:
    return tuple(_output(record) for record in records)


def _output(record: dict[str, Any]) -> Output:
    kind = record.get("kind")
    if kind == "Emit":
        fields = _known(Emit, record)
        fields["event"] = SessionEvent(fields["event"])
        if fields.get("error") is not None:
            fields["error"] = Error(fields["error"])
        return Emit(**fields)
    if kind == "StartReservation":
        reservation = reservation_from(record["reservation"])
        assert reservation is not None
        return StartReservation(reservation)
    if kind == "EndReservation":
        return EndReservation(**_known(EndReservation, record))
    if kind == "Unlock":
        return Unlock()
    if kind == "PhaseSwitch":
        return PhaseSwitch(**_known(PhaseSwitch, record))
    raise ValueError(f"unknown output kind {kind!r} in the outbox")


def reading_record(reading: MeterReading | None) -> dict[str, Any] | None:
    return None if reading is None else dataclasses.asdict(reading)


def reading_from(record: dict[str, Any] | None) -> MeterReading | None:
    if record is None:
        return None
    fields = _known(MeterReading, record)
    for name in ("power_w", "voltage_v", "current_a"):
        if name in fields:
            fields[name] = tuple(fields[name])
    return MeterReading(**fields)
