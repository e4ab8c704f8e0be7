"""The right of one actor generation to act, and the error of a generation that lost it."""

from __future__ import annotations

from collections.abc import Callable


class Fenced(Exception):
    """A stale actor generation tried to act after it was abandoned."""


class Lease:
    """The right of one actor generation to act; revoked when the generation is abandoned.

    Drivers, state writes and publications of an actor go through its lease, so that a
    hung generation that wakes up after it was replaced changes nothing.
    """

    def __init__(
        self,
        role: str,
        generation: int,
        on_failure: Callable[[str], None] | None = None,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.role = role
        self.generation = generation
        self._valid = True
        self._on_failure = on_failure
        self._on_exit = on_exit

    def report_failure(self, reason: str) -> None:
        """The generation died abnormally: tell its supervisor (never blocks)."""
        if self._on_failure is not None:
            self._on_failure(reason)

    def report_exit(self) -> None:
        """The generation stopped normally: tell its supervisor (never blocks)."""
        if self._on_exit is not None:
            self._on_exit()

    @property
    def valid(self) -> bool:
        return self._valid

    def revoke(self) -> None:
        self._valid = False

    def check(self) -> None:
        if not self._valid:
            raise Fenced(f"{self.role} generation {self.generation} was fenced off")
