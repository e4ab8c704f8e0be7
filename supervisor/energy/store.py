"""Where the operator's station limit (`set_station_max_current`) is kept across restarts.

`LimitStore` is the interface; `FileLimitStore` keeps the value in one small JSON file under
the state directory, replaced atomically (write, fsync, rename), so a crash leaves the old
value or the new one, never half of either. A file that cannot be read is reported and
ignored: the station starts with the configured limits instead of not starting.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pathlib
from typing import Protocol

log = logging.getLogger(__name__)

FILE_NAME = "station-limit.json"


class LimitStore(Protocol):
    def load(self) -> float | None:
        """The operator's limit last saved, or None when none was ever set."""
        ...

    def save(self, max_current_a: float) -> None:
        """Keep `max_current_a`; returns once it is durable."""
        ...


class FileLimitStore:
    def __init__(self, state_dir: pathlib.Path) -> None:
        self.path = state_dir / "energy" / FILE_NAME

    def load(self) -> float | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.error("%s: cannot read the operator's station limit (%s); ignored", self.path, exc)
            return None
        try:
            value = json.loads(text)["max_current_a"]
        except (ValueError, KeyError, TypeError) as exc:
            log.error("%s: not a saved station limit (%r); ignored", self.path, exc)
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            log.error("%s: max_current_a must be a number >= 0, got %r; ignored", self.path, value)
            return None
        return float(value)

    def save(self, max_current_a: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            json.dump({"max_current_a": max_current_a}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
