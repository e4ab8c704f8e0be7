"""One log line per session event, board error and supervision event, from the publications.

The station publishes everything an operator must know on its bus; this observer turns
the few topics that matter into lines naming the connector's index and evse_id:

    evse 1 (DE*PNX*E123456*1): SessionStarted (session 4f...)
    evse 2 (DE*PNX*E123456*2): board error RCD_TypeA (session ...)
    evse 1 (DE*PNX*E123456*1): meter actor crashed (generation 3): ChaosFailure: ...
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from supervisor.ops.logs import about

log = logging.getLogger("evse_supervisor.events")

_ERROR_EVENTS = frozenset({"Error"})
_SUPERVISION_LEVELS = {
    "started": logging.DEBUG,
    "restarted": logging.INFO,
    "recovered": logging.INFO,
    "crashed": logging.WARNING,
    "hung": logging.WARNING,
    "escalated": logging.ERROR,
    "gave_up": logging.ERROR,
}


class EventLog:
    """A bus observer (`Bus.observe`): `evse_ids` maps each connector's index to its evse_id."""

    def __init__(self, evse_ids: Mapping[int, str]) -> None:
        self._evse_ids = dict(evse_ids)

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        try:
            if topic.endswith("/session_events"):
                self._session_event(topic, payload["value"])
            elif topic == "station/supervision":
                self._supervision(payload["value"])
        except Exception:
            log.exception("could not log the publication on %s", topic)

    def _index(self, topic: str) -> int:
        return int(topic.split("/", 2)[1])

    def _session_event(self, topic: str, value: dict[str, Any]) -> None:
        index = self._index(topic)
        event = str(value.get("event"))
        fields = about(index, self._evse_ids.get(index), event=event, session=value.get("uuid"))
        if event in _ERROR_EVENTS:
            error = value.get("error")
            log.warning(
                "board error %s (session %s)", error, value.get("uuid"), extra={**fields, "error": error}
            )
            return
        energy = _energy(value)
        if energy is not None:
            fields["energy_wh"] = energy
        detail = f", {energy:g} Wh" if energy is not None else ""
        log.info("%s (session %s%s)", event, value.get("uuid"), detail, extra=fields)

    def _supervision(self, value: dict[str, Any]) -> None:
        index, event, role = value.get("evse"), str(value.get("event")), value.get("actor")
        level = _SUPERVISION_LEVELS.get(event, logging.INFO)
        fields = about(index, self._evse_ids.get(index) if isinstance(index, int) else None)
        fields.update(actor=role, supervision=event, generation=value.get("generation"))
        reason = value.get("reason")
        log.log(
            level,
            "%s actor %s (generation %s, %s restarts)%s",
            role,
            event.replace("_", " "),
            value.get("generation"),
            value.get("restarts"),
            f": {reason}" if reason else "",
            extra=fields,
        )


def _energy(value: dict[str, Any]) -> float | None:
    for key in ("session_started", "session_finished", "session_cancelled"):
        details = value.get(key)
        if isinstance(details, dict) and "energy_Wh_import" in details:
            return float(details["energy_Wh_import"])
    return None
