"""What the API layer needs from the station: the station implements this protocol.

The command table (`commands.py`) decides which of these a command uses (its `route`);
arguments reach the station already checked and converted (dates as Unix seconds).
Errors: `supervisor.tree.Unavailable` for a connector restarting past the deadline or
given up, `pykka.Timeout` when the deadline passes; anything else is a station bug
(answered `internal`).
"""

from __future__ import annotations

from typing import Any, Protocol

from actors.ports import ReplyKey
from supervisor.station.bus import Bus


class Backend(Protocol):
    epoch: str
    journal_id: str  # changes only when the journal started afresh (event_seq started again)
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

    def ask_session(self, index: int, message: object, timeout_s: float, key: ReplyKey | None = None) -> Any:
        """Ask the connector's session actor, waiting through a restart until the deadline.

        With `key` (client, id) the reply is journaled with the change the command caused.

        May take longer than `timeout_s` while the connector is restarting (the API layer
        answers `timeout` at the deadline and keeps the late result).
        """
        ...

    def sim(self, index: int, control: str, args: dict[str, Any]) -> bool:
        """Run a control of the connector's simulator; ValueError for values the car refuses."""
        ...

    def chaos(self, index: int, role: str, message: object, timeout_s: float) -> bool:
        """Tell one of the connector's actors a chaos message."""
        ...

    def events_since(self, index: int, since: int) -> dict[str, Any]:
        """The connector's session events after `since`; reads the journal unless `events_in_memory`."""
        ...

    def events_in_memory(self, index: int, since: int) -> bool:
        """`events_since` answers from memory at once (may run on the socket thread)."""
        ...

    def stored_replies(self) -> list[tuple[str, int | str, Any]]:
        """(client, id, result) of the keyed requests journaled before this start, oldest first."""
        ...

    def list_evses(self) -> list[dict[str, Any]]: ...

    def status(self) -> dict[str, Any]: ...

    def supervision_summary(self) -> list[dict[str, Any]]:
        """Per connector: index, state, restarts (for the heartbeat and `evsectl top`)."""
        ...
