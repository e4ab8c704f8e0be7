"""What the actors need from the layer above, as interfaces: publishing and reaching peers."""

from __future__ import annotations

from typing import Any, Protocol


class Publisher(Protocol):
    """Publishes one connector's variables (`session_events`, `limits`, ...)."""

    def publish(self, variable: str, value: Any, *, event_seq: int | None = None) -> None: ...


class Peers(Protocol):
    """Reaches the current generation of a sibling actor of the same connector by its role."""

    def ask(self, role: str, message: object, timeout_s: float) -> Any:
        """Ask and wait for the answer; raises TimeoutError or the handler's exception."""
        ...

    def tell(self, role: str, message: object) -> None:
        """Send without waiting; a message to an actor that is down is dropped."""
        ...
