"""What a step of the charging state machine returns (`Step`), and what its parts share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.model import Emit, Model, Output, Session, SessionEvent

ALLOCATION_HOLD_S = 10.0  # a station allocation not renewed within this falls to 0 A


@dataclass(frozen=True)
class Step:
    """The next model, what the actors carry out, and the reply: a value, or one the hardware
    completes (`BoardAnswer`, `LockAnswer`, `MeterAnswer`) or gives later (`Pending`)."""

    model: Model
    outputs: tuple[Output, ...] = ()
    reply: Any = None


def emit(model: Model, event: SessionEvent, **details: Any) -> Emit:
    """A session event of the model's session ("" as uuid outside a session)."""
    token = model.session.token if model.session is not None else None
    return Emit(event, model.session_uuid, token=token, **details)


def authorized_uncancelled(model: Model) -> Session | None:
    session = model.session
    if session is None or not session.authorized or session.cancelled:
        return None
    return session


def open_session_uncancelled(model: Model) -> bool:
    return model.session is not None and not model.session.cancelled
