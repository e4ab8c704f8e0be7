"""The station's grid connection, as configured (`station.grid`)."""

from __future__ import annotations

from dataclasses import dataclass

PHASE_ROTATIONS = ("RST", "RTS", "SRT", "STR", "TRS", "TSR")
_LINE_OF = {"R": "L1", "S": "L2", "T": "L3"}


@dataclass(frozen=True)
class GridSettings:
    max_current_a: float | None = None  # per phase; None: the fuse sets no station limit
    phases: int = 3
    update_interval_s: float = 1.0


def grid_phases(rotation: str, connector_phases: int, grid_phases_count: int = 3) -> tuple[str, ...]:
    """The grid phases a connector's lines are on: its first `connector_phases` letters, rotated.

    On a single-phase grid every line is on L1.
    """
    if grid_phases_count == 1:
        return ("L1",)
    return tuple(sorted(_LINE_OF[letter] for letter in rotation[:connector_phases]))
