"""The right of one actor generation to act, and the error of a generation that lost it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

FailureKind = Literal["counted", "uncounted", "fatal"]
"""How a death weighs: against the restart intensity (most), not at all (a device briefly
away: restart, never give up), or past every limit (a device lost: give up now)."""


class Fenced(Exception):
    """A stale actor generation tried to act after it was abandoned."""


class Lease:
    """The right of one actor generation to act; revoked when the generation is abandoned.

    Drivers, state writes and publications of an actor go through its lease, so that a
    hung generation that wakes up after it was replaced changes nothing. A generation its
    supervisor took out of the table is `withdrawn` at once, before its lease is revoked (a
    sibling stopped with a failed child keeps it until its stop): it ends the message in
    hand but starts no `Call` still queued, which its sender sends to the next one. The lease also
    shows since when the generation has been in its current handler (`busy_since_s`, on
    `clock`), which is how its supervisor finds a hung actor without asking it.
    """

    def __init__(
        self,
        role: str,
        generation: int,
        on_failure: Callable[[str, FailureKind], None] | None = None,
        on_exit: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.role = role
        self.generation = generation
        self._valid = True
        self._withdrawn = False
        self._on_failure = on_failure
        self._on_exit = on_exit
        self._clock = clock
        self.busy_since_s: float | None = None  # when the current handler began; None between them

    def enter(self) -> None:
        """The generation begins to handle a message."""
        self.busy_since_s = self._clock()

    def leave(self) -> None:
        """The generation is done with the message."""
        self.busy_since_s = None

    def report_failure(self, reason: str, kind: FailureKind = "counted") -> None:
        """The generation died abnormally: tell its supervisor (never blocks)."""
        if self._on_failure is not None:
            self._on_failure(reason, kind)

    def report_exit(self) -> None:
        """The generation stopped normally: tell its supervisor (never blocks)."""
        if self._on_exit is not None:
            self._on_exit()

    @property
    def valid(self) -> bool:
        return self._valid

    @property
    def withdrawn(self) -> bool:
        """Out of its supervisor's table: no further `Call` is started (see the class docstring)."""
        return self._withdrawn or not self._valid

    def withdraw(self) -> None:
        self._withdrawn = True

    def revoke(self) -> None:
        self._valid = False

    def check(self) -> None:
        if not self._valid:
            raise Fenced(f"{self.role} generation {self.generation} was fenced off")
