"""The keeper of the invariant: per grid phase, the connectors' limits never sum above the station limit.

Every raise of a connector's limit goes through `raise_to` (or `claim_minimum`, the 6 A a
session takes at its authorization), which refuses what does not fit; a decrease is
recorded with `lower_to` only once the connector confirmed it. The ledger therefore
never holds less than what the connectors may offer, whatever runs late or dies.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from supervisor.energy.allocation import MIN_CURRENT_A

_TOLERANCE_A = 1e-6  # sums of 0.1 A steps in floating point


class Ledger:
    """Thread-safe; implements the actors' `Budget` port (claim_minimum, release)."""

    def __init__(self, phases_by_index: Mapping[int, tuple[str, ...]], limit_a: float | None) -> None:
        self._lock = threading.Lock()
        self._phases = dict(phases_by_index)
        self._granted_a: dict[int, float] = dict.fromkeys(self._phases, 0.0)
        self._before_claim_a: dict[int, float] = {}
        self._limit_a = limit_a

    @property
    def limit_a(self) -> float | None:
        with self._lock:
            return self._limit_a

    def set_limit(self, limit_a: float | None) -> None:
        """A new station limit; a lower one refuses raises until the decreases were recorded."""
        with self._lock:
            self._limit_a = limit_a

    def granted_a(self, index: int) -> float:
        with self._lock:
            return self._granted_a[index]

    def sums_a(self) -> dict[str, float]:
        with self._lock:
            return self._sums_locked()

    def raise_to(self, index: int, amount_a: float) -> bool:
        """Grant `amount_a` to a connector if the sum on each of its phases stays within the limit."""
        with self._lock:
            return self._raise_locked(index, amount_a)

    def lower_to(self, index: int, amount_a: float) -> None:
        """The connector confirmed it offers at most `amount_a` now."""
        with self._lock:
            self._granted_a[index] = min(self._granted_a[index], amount_a)

    def claim_minimum(self, index: int) -> float:
        """The 6 A minimum for a session being authorized now, if free; 0.0 when not."""
        with self._lock:
            if self._limit_a is None:
                return 0.0
            before_a = self._granted_a[index]
            if before_a < MIN_CURRENT_A and not self._raise_locked(index, MIN_CURRENT_A):
                return 0.0
            self._before_claim_a[index] = before_a
            return MIN_CURRENT_A

    def release(self, index: int) -> None:
        """A claim not taken up (the session was not authorized after all): as before the claim."""
        with self._lock:
            before_a = self._before_claim_a.pop(index, None)
            if before_a is not None:
                self._granted_a[index] = min(self._granted_a[index], before_a)

    def _raise_locked(self, index: int, amount_a: float) -> bool:
        if self._limit_a is None:
            self._granted_a[index] = amount_a
            return True
        extra_a = amount_a - self._granted_a[index]
        if extra_a <= 0:
            return True
        sums = self._sums_locked()
        if any(sums[p] + extra_a > self._limit_a + _TOLERANCE_A for p in self._phases[index]):
            return False
        self._granted_a[index] = amount_a
        return True

    def _sums_locked(self) -> dict[str, float]:
        sums: dict[str, float] = {}
        for index, granted_a in self._granted_a.items():
            for phase in self._phases[index]:
                sums[phase] = sums.get(phase, 0.0) + granted_a
        return sums
