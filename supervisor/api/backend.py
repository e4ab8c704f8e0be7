"""What the API layer needs from the station: the station implements this protocol."""

from __future__ import annotations

from typing import Any, Protocol

from supervisor.station.bus import Bus


class Backend(Protocol):
    epoch: str
    bus: Bus
    chaos_enabled: bool
    started_monotonic: float

    def evse_count(self) -> int: ...

    def resolve_evse(self, evse: int | str) -> int | None:
        """The 1-based index of a connector given its index or its evse_id; None if there is none."""
        ...

    def is_sim(self, index: int) -> bool:
        """True when the connector's board driver is the simulator (sim_* commands allowed)."""
        ...

    def call(self, index: int, command: str, args: dict[str, Any], timeout_s: float) -> Any:
        """Run one connector command (evse_manager commands, authorize, get_events, sim_*, chaos_*).

        Commands marked `direct` in the command table (`get_events`) are called on the API's
        socket thread when their connector has nothing queued: they must answer at once, never block.

        `args` were already checked against the command table and converted (dates to Unix
        seconds). Blocks until the command is done; it may take longer than `timeout_s` when the
        connector is restarting (the API layer answers `timeout` at the deadline and keeps the late
        result). Raises supervisor.errors.Unavailable or Forbidden, ValueError for an argument the
        table could not judge (answered `bad_args`).
        """
        ...

    def list_evses(self) -> list[dict[str, Any]]: ...

    def status(self) -> dict[str, Any]: ...

    def supervision_summary(self) -> list[dict[str, Any]]:
        """Per connector: index, state, restarts (for the heartbeat and `evsectl top`)."""
        ...
