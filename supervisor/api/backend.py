"""What the API layer needs from the station: the station implements this protocol.

The command table (`commands.py`) decides which of these a command uses (its `route`);
arguments reach the station already checked and converted (dates as Unix seconds).
Errors: `supervisor.tree.Unavailable` for a connector restarting past the deadline or
given up, `pykka.Timeout` when the deadline passes; anything else is a station bug
(answered `internal`). Connector commands reach the actors from the API's socket
thread: every method but `ask_session`, `restart_connector`, `list_evses`, `status` and
`events_since` beyond `events_in_memory` answers at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pykka

from actors.ports import ReplyKey
from supervisor.api.protocol import Request
from supervisor.station.bus import Bus


class Workers(Protocol):
    """A process-isolated station's workers, as the API's relay sees them."""

    def worker_id(self, index: int) -> int: ...

    def endpoint(self, worker_id: int) -> str:
        """The worker's command endpoint (its own API)."""
        ...

    def state(self, worker_id: int) -> str:
        """starting | running | restarting | gave_up | stopped"""
        ...

    def indexes(self, worker_id: int) -> tuple[int, ...]: ...

    def revive(self, worker_id: int) -> bool:
        """A given-up worker starts again; False when it was not given up."""
        ...

    def watch(self, listener: Callable[[int, bool], None]) -> None:
        """`listener(worker_id, serving)` from the pool's thread whenever a worker starts or stops serving."""
        ...


class Backend(Protocol):
    epoch: str
    journal_id: str  # changes only when the journal started afresh (event_seq started again)
    bus: Bus
    chaos_enabled: bool
    started_monotonic: float

    @property
    def workers(self) -> Workers | None:
        """None: thread isolation (connector commands go to the actors here)."""
        ...

    def evse_count(self) -> int: ...

    def resolve_evse(self, evse: int | str) -> int | None:
        """The 1-based index of a connector given its index or its evse_id; None if there is none."""
        ...

    def is_sim(self, index: int) -> bool:
        """True when the connector's board driver is the simulator (sim_* commands allowed)."""
        ...

    def stall_supervisor(self, index: int, seconds: float) -> bool:
        """Chaos: the connector's supervisor stops deciding for `seconds` (the health check sees it)."""
        ...

    def restart_connector(self, index: int) -> bool:
        """Restart the connector's actors on purpose (blocking: from a worker thread only);
        Unavailable when it was given up or is stopped."""
        ...

    def actor_ref(self, index: int, role: str) -> pykka.ActorRef[Any] | None:
        """The running generation of one of the connector's actors, None while it restarts.

        Raises Unavailable when the connector was given up (or stopped): then only
        `ask_session` answers, and revives it for the commands that may.
        """
        ...

    def decides(self, index: int, message: object) -> bool:
        """True when the station must see `message` before the session actor (then it goes
        through `ask_session` on a worker, not straight to the actor)."""
        ...

    def ask_session(self, index: int, message: object, timeout_s: float, key: ReplyKey | None = None) -> Any:
        """Ask the connector's session actor, waiting through a restart until the deadline
        (blocking: from a worker thread only). With `key` (client, id) the reply is journaled
        with the change the command caused."""
        ...

    def sim(self, index: int, control: str, args: dict[str, Any]) -> bool:
        """Run a control of the connector's simulator (at once); ValueError for values the car refuses."""
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

    def set_station_max_current(self, max_current: float) -> bool:
        """The operator's station limit (A per phase): kept across restarts, applied before it returns."""
        ...

    def kill_worker(self, index: int) -> bool:
        """Chaos: SIGKILL of the connector's worker; Forbidden without workers."""
        ...

    def stop_worker(self, index: int, seconds: float) -> bool:
        """Chaos: SIGSTOP of the connector's worker, SIGCONT after `seconds`; Forbidden without workers."""
        ...

    def supervision_summary(self) -> list[dict[str, Any]]:
        """Per connector: index, state, restarts, failures (for the heartbeat and `evsectl top`)."""
        ...


class RequestObserver(Protocol):
    """Told of every answered request (metrics, the command log); called on the socket thread.

    `request` is None when the request could not be decoded; `who` is the client id, or
    the peer's ZeroMQ routing id in hex when the request named no client; `index` the
    connector the command ran on, if any. It must return at once and never raise.
    """

    def request_done(
        self, request: Request | None, reply: bytes, elapsed_s: float, who: str, index: int | None
    ) -> None: ...
