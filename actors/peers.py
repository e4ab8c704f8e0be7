"""A fixed roster of one connector's actors: the `Peers` of a connector without supervision."""

from __future__ import annotations

from typing import Any

import pykka


class Roster:
    """Role → actor ref; used where nothing restarts the actors (tests, tools)."""

    def __init__(self) -> None:
        self.refs: dict[str, pykka.ActorRef[Any]] = {}

    def ask(self, role: str, message: object, timeout_s: float) -> Any:
        return self.refs[role].ask(message, timeout=timeout_s)

    def tell(self, role: str, message: object) -> None:
        ref = self.refs.get(role)
        if ref is not None and ref.is_alive():
            ref.tell(message)
