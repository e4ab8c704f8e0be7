"""Reservations (checked in the contract's order) and the meter's signed values."""

from __future__ import annotations

from actors.charging.step import Step
from actors.derived import reservation_verdict, state_of
from actors.messages import CancelReservation, GetSignedMeterValue, ReserveNow
from actors.model import EndReservation, Env, MeterAnswer, Model, Reservation, StartReservation


def reserve_now(model: Model, command: ReserveNow, env: Env) -> Step:
    """Checked in the contract's order (`reservation_verdict`); accepted, it replaces one of its id."""
    verdict = reservation_verdict(
        state_of(model, env),
        model.plugged,
        command.expiry_date,
        env.time,
        env.reservation,
        command.reservation_id,
    )
    if verdict is not None:
        return Step(model, reply=verdict)
    reservation = Reservation(
        command.reservation_id, command.auth_token, command.expiry_date, command.parent_id
    )
    return Step(model, (StartReservation(reservation),), "Accepted")


def cancel_reservation(model: Model, command: CancelReservation, env: Env) -> Step:
    if env.reservation is None:
        return Step(model, reply=False)
    return Step(model, (EndReservation("Cancelled"),), True)


def get_signed_meter_value(model: Model, command: GetSignedMeterValue, env: Env) -> Step:
    """The meter signs a reading now ("T"), naming the session's token when it has one; "begin" is
    the authorized session's reading taken at authorization ("" outside an authorized session)."""
    session = model.session
    if command.reading == "begin":
        begin = session.begin_signed_meter_value if session is not None and session.authorized else None
        return Step(model, reply=begin or "")
    return Step(model, reply=MeterAnswer(session.token if session is not None else None, "T"))
