"""What the bridge uses of the station: connector commands, views, the last meter publication.

The bridge is a client of the connectors like the API: it runs their commands and reads
what `status` shows; `StationConnectors` is that port over the station in this process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from supervisor.ocpp.status import ConnectorView, SessionView

if TYPE_CHECKING:
    from supervisor.station.station import Station


@dataclass(frozen=True)
class ConnectorFacts:
    """What the configuration says of a connector."""

    lock: bool  # False: a fixed cable, nothing to unlock
    phases: int  # 1 or 3
    phase_rotation: str
    max_current_a: float


class Connectors(Protocol):
    def count(self) -> int: ...

    def facts(self, index: int) -> ConnectorFacts: ...

    def view(self, index: int) -> ConnectorView:
        """The connector's state, active errors and session as they are now (never blocks)."""
        ...

    def ask(self, index: int, message: object, timeout_s: float) -> Any:
        """A connector command (an actors.messages value), straight to the connector's session actor
        (an `Authorize` does not come back to the bridge)."""
        ...

    def events_since(self, index: int, since: int) -> dict[str, Any]:
        """`get_events`: the connector's session events after `since`, and its last_event_seq."""
        ...

    def powermeter(self, index: int) -> dict[str, Any] | None:
        """The connector's last `powermeter` publication, or None before the first."""
        ...

    def restart(self, index: int, hard: bool) -> None:
        """Restart the connector's actors on purpose (the `restart` command's way; the state and
        the session outlive them); `hard`: the board's power off first."""
        ...

    def set_ocpp_limits(self, station_a: float | None, evse_a: dict[int, float], timeout_s: float) -> bool:
        """OCPP's inputs of the station's allocation: ChargePointMaxProfile's station limit and each
        connector's schedule (A per phase); True once applied."""
        ...


class StationConnectors:
    """`Connectors` over the station's connectors in this process."""

    def __init__(self, station: Station) -> None:
        self._station = station

    def count(self) -> int:
        return self._station.evse_count()

    def facts(self, index: int) -> ConnectorFacts:
        s = self._station.connector(index).settings
        return ConnectorFacts(s.lock, s.phases, s.phase_rotation, s.max_current_a)

    def view(self, index: int) -> ConnectorView:
        connector = self._station.connector(index)
        model = connector.state.model
        session = model.session
        reservation = connector.state.reservation
        return ConnectorView(
            state=connector.state_name().value,
            errors=tuple(sorted(error.value for error in model.errors)),
            session=None
            if session is None
            else SessionView(
                session.uuid, session.token, session.authorized, session.cancelled, session.reservation_id
            ),
            reserved=reservation is not None,
            pre_authorized=model.pre_auth is not None,
            gave_up=connector.tree.state == "gave_up",
            recovering=connector.state.recovering,
            reservation_id=None if reservation is None else reservation.reservation_id,
        )

    def ask(self, index: int, message: object, timeout_s: float) -> Any:
        return self._station.connector(index).ask_session(message, timeout_s)

    def events_since(self, index: int, since: int) -> dict[str, Any]:
        return self._station.connector(index).events_since(since)

    def powermeter(self, index: int) -> dict[str, Any] | None:
        topic = f"evse/{index}/powermeter"
        value: dict[str, Any] | None = self._station.bus.snapshot(topic)["vars"].get(topic)
        return value

    def restart(self, index: int, hard: bool) -> None:
        if hard:
            self._station.connector(index).power_off()
        self._station.restart_connector(index)

    def set_ocpp_limits(self, station_a: float | None, evse_a: dict[int, float], timeout_s: float) -> bool:
        return self._station.energy.set_ocpp_limits(station_a, evse_a, timeout_s)
