"""Where the operator's station limit (`set_station_max_current`) is kept across restarts.

`LimitStore` is the interface the energy manager uses; `JournalLimitStore` keeps the value
in the station journal's key-value table (synced to disk before the command answers). A
stored value that is not a limit is reported and ignored: the station starts with the
configured limits instead of not starting.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

log = logging.getLogger(__name__)

KEY = "energy.operator_max_current_a"


class LimitStore(Protocol):
    def load(self) -> float | None:
        """The operator's limit last saved, or None when none was ever set."""
        ...

    def save(self, max_current_a: float) -> None:
        """Keep `max_current_a`; returns once it is durable."""
        ...


class KeyValue(Protocol):
    """A durable store of small JSON values (the station journal)."""

    def get(self, key: str) -> Any: ...

    def put(self, key: str, value: Any) -> None: ...


class JournalLimitStore:
    def __init__(self, journal: KeyValue) -> None:
        self._journal = journal

    def load(self) -> float | None:
        value = self._journal.get(KEY)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            log.error("the journal's %s must be a number >= 0, got %r; ignored", KEY, value)
            return None
        return float(value)

    def save(self, max_current_a: float) -> None:
        self._journal.put(KEY, max_current_a)
