"""What the actors need from the layer above, as interfaces: publishing, peers, timers, the journal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from actors.model import Model, Output, Reservation
from drivers.base import MeterReading


class Publisher(Protocol):
    """Publishes one connector's variables (`session_events`, `limits`, ...)."""

    def publish(self, variable: str, value: Any, *, event_seq: int | None = None) -> None: ...


class Budget(Protocol):
    """The station's grid budget: the 6 A minimum a session takes as it is authorized."""

    def claim_minimum(self, index: int) -> float:
        """Reserve the minimum for connector `index` if it is free; the amount held, or 0.0."""
        ...

    def release(self, index: int) -> None:
        """Give back a claim the step did not use (the session was not authorized)."""
        ...


class Peers(Protocol):
    """Reaches the current generation of a sibling actor of the same connector by its role."""

    def ask(self, role: str, message: object, timeout_s: float) -> Any:
        """Ask and wait for the answer; raises the handler's exception, pykka.Timeout after
        `timeout_s`, or supervisor.tree.Unavailable when no generation of `role` can answer."""
        ...

    def tell(self, role: str, message: object) -> None:
        """Send without waiting; a message to an actor that is down is dropped."""
        ...


ReplyKey = tuple[str, int | str]  # (client, request id): a request's idempotency key
LoggedRow = tuple[int, float, dict[str, Any]]  # (event_seq, ts, value) of one session event


class JournalWriteFailed(Exception):
    """A write did not reach the journal (disk full, I/O error); none of it took effect."""


@dataclass(frozen=True)
class Restored:
    """What a connector's journal held when the connector started."""

    model: Model | None  # None: never journaled (the configured start)
    reservation: Reservation | None
    outbox: tuple[Output, ...]
    last_reading: MeterReading | None
    plug_count: int | None
    last_event_seq: int
    recent_events: tuple[LoggedRow, ...]


class Journal(Protocol):
    """Where one connector's state is written through (spec/durability.md)."""

    def restore(self) -> Restored | None:
        """What was journaled; None when nothing was (a first boot)."""
        ...

    def write(
        self,
        fields: Mapping[str, Any],
        events: Sequence[LoggedRow] = (),
        reply: tuple[ReplyKey, Any] | None = None,
        *,
        durable: bool = True,
    ) -> None:
        """One transaction: the fields that changed (`model`, `reservation`, `outbox`,
        `last_reading`, `plug_count`), new events and a request's reply; synced to disk
        unless not `durable` (meter checkpoints). Raises JournalWriteFailed."""
        ...

    def events_since(self, since: int, limit: int) -> list[LoggedRow]:
        """Up to `limit` events after `since`, oldest first."""
        ...

    def reply(self, key: ReplyKey) -> tuple[Any] | None:
        """The reply stored for the request `key`, as `(reply,)`; None when none is kept."""
        ...


class Timer(Protocol):
    """Ticks an actor of the connector once its next timer is due (the station's one timer thread)."""

    def arm(self, role: str, due_s: float | None) -> None:
        """Tell `role` a `Tick` at `due_s` (the connector clock's monotonic time); None disarms."""
        ...


class NoTimer:
    """A timer that never fires: whoever built the actors ticks them (tests)."""

    def arm(self, role: str, due_s: float | None) -> None:
        return None
