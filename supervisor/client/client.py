"""A Python client for the station's ZeroMQ API (docs/wire.md, docs/commands.md).

    client = Client("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556")
    client.enable(1)
    for topic, payload in client.watch("evse/1/"):
        ...

A Client is not thread-safe: use one per thread. It has one method per command of the
station's table (`reference.commands()`, docs/commands.md), with the table's argument names;
a test holds them to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from supervisor.client.connection import ApiError, Connection
from supervisor.client.watch import watch

__all__ = ["ApiError", "Client", "rfc3339"]


class Client(Connection):
    """One method per command of the station's table, and `watch` for the publications."""

    # station commands

    def ping(self) -> dict[str, Any]:
        return self._map(self.call("ping"))

    def version(self) -> dict[str, Any]:
        return self._map(self.call("version"))

    def list_commands(self) -> list[dict[str, Any]]:
        return list(self.call("list_commands"))

    def list_evses(
        self, evse_from: int | None = None, evse_to: int | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        return list(self.call("list_evses", evse_from=evse_from, evse_to=evse_to, state=state))

    def snapshot(
        self, prefix: str = "", evse_from: int | None = None, evse_to: int | None = None
    ) -> dict[str, Any]:
        return self._map(self.call("snapshot", prefix=prefix or None, evse_from=evse_from, evse_to=evse_to))

    def status(
        self, evse_from: int | None = None, evse_to: int | None = None, state: str | None = None
    ) -> dict[str, Any]:
        return self._map(self.call("status", evse_from=evse_from, evse_to=evse_to, state=state))

    def set_station_max_current(self, max_current: float) -> bool:
        return bool(self.call("set_station_max_current", max_current=max_current))

    def reload(self) -> dict[str, Any]:
        """{"applied": [...], "needs_restart": [...]}, and "error" when the file was refused."""
        return self._map(self.call("reload"))

    def logs(self, lines: int | None = None, since: int | None = None) -> dict[str, Any]:
        """{"lines": [{"seq", "ts", "level", "logger", "text"}], "last_seq", "missed"}."""
        return self._map(self.call("logs", lines=lines, since=since))

    @staticmethod
    def _map(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ApiError("internal", f"expected a map, got {value!r}")
        return value

    # connector commands

    def enable(self, evse: int | str) -> bool:
        return bool(self.call("enable", evse))

    def disable(self, evse: int | str) -> bool:
        return bool(self.call("disable", evse))

    def set_faulted(self, evse: int | str) -> bool:
        return bool(self.call("set_faulted", evse))

    def pause_charging(self, evse: int | str) -> bool:
        return bool(self.call("pause_charging", evse))

    def resume_charging(self, evse: int | str) -> bool:
        return bool(self.call("resume_charging", evse))

    def cancel_charging(self, evse: int | str, reason: str) -> bool:
        return bool(self.call("cancel_charging", evse, reason=reason))

    def accept_new_session(self, evse: int | str) -> bool:
        return bool(self.call("accept_new_session", evse))

    def reserve_now(
        self,
        evse: int | str,
        reservation_id: int,
        auth_token: str,
        expiry_date: dt.datetime | str,
        parent_id: str | None = None,
    ) -> str:
        """ReservationResult; `expiry_date` as an aware datetime or an RFC 3339 string."""
        date = rfc3339(expiry_date) if isinstance(expiry_date, dt.datetime) else expiry_date
        return str(
            self.call(
                "reserve_now",
                evse,
                reservation_id=reservation_id,
                auth_token=auth_token,
                expiry_date=date,
                parent_id=parent_id,
            )
        )

    def cancel_reservation(self, evse: int | str) -> bool:
        return bool(self.call("cancel_reservation", evse))

    def force_unlock(self, evse: int | str) -> bool:
        return bool(self.call("force_unlock", evse))

    def set_local_max_current(self, evse: int | str, max_current: float) -> str:
        return str(self.call("set_local_max_current", evse, max_current=max_current))

    def switch_three_phases_while_charging(self, evse: int | str, three_phases: bool) -> str:
        return str(self.call("switch_three_phases_while_charging", evse, three_phases=three_phases))

    def get_signed_meter_value(self, evse: int | str, reading: str | None = None) -> str:
        """`reading`: "now" (the default) or "begin" (the session's reading taken at authorization)."""
        return str(self.call("get_signed_meter_value", evse, reading=reading))

    def authorize(self, evse: int | str, auth_token: str, parent_id: str | None = None) -> bool:
        return bool(self.call("authorize", evse, auth_token=auth_token, parent_id=parent_id))

    def restart(self, evse: int | str) -> bool:
        """Restart the connector's actors on purpose; True once they run again."""
        return bool(self.call("restart", evse))

    def get_events(self, evse: int | str, since: int | None = None) -> dict[str, Any]:
        return self._map(self.call("get_events", evse, since=since))

    # simulation and chaos

    def sim_plug_in(
        self,
        evse: int | str,
        capacity_wh: float | None = None,
        soc: float | None = None,
        target_soc: float | None = None,
        max_current_a: float | None = None,
        phases: int | None = None,
        needs_ventilation: bool | None = None,
        stop_delay_s: float | None = None,
    ) -> bool:
        """A simulated car plugs in; what is left out takes the simulator's default."""
        car = {"capacity_wh": capacity_wh, "soc": soc, "target_soc": target_soc,
               "max_current_a": max_current_a, "phases": phases,
               "needs_ventilation": needs_ventilation, "stop_delay_s": stop_delay_s}  # fmt: skip
        return bool(self.call("sim_plug_in", evse, **car))

    def sim_unplug(self, evse: int | str) -> bool:
        return bool(self.call("sim_unplug", evse))

    def sim_ev_pause(self, evse: int | str) -> bool:
        return bool(self.call("sim_ev_pause", evse))

    def sim_ev_resume(self, evse: int | str) -> bool:
        return bool(self.call("sim_ev_resume", evse))

    def sim_fault(self, evse: int | str, kind: str) -> bool:
        return bool(self.call("sim_fault", evse, kind=kind))

    def sim_clear_fault(self, evse: int | str, kind: str | None = None) -> bool:
        return bool(self.call("sim_clear_fault", evse, kind=kind))

    def chaos_kill(self, evse: int | str, actor: str) -> bool:
        return bool(self.call("chaos_kill", evse, actor=actor))

    def chaos_hang(self, evse: int | str, actor: str, seconds: float) -> bool:
        return bool(self.call("chaos_hang", evse, actor=actor, seconds=seconds))

    def chaos_hang_supervisor(self, evse: int | str, seconds: float) -> bool:
        return bool(self.call("chaos_hang_supervisor", evse, seconds=seconds))

    def chaos_kill_worker(self, evse: int | str) -> bool:
        return bool(self.call("chaos_kill_worker", evse))

    def chaos_stop_worker(self, evse: int | str, seconds: float) -> bool:
        return bool(self.call("chaos_stop_worker", evse, seconds=seconds))

    # publications

    def watch(
        self, prefix: str = "", idle_timeout_s: float | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The snapshot's variables, then the live stream, without gaps or duplicates.

        Snapshot items come first as (topic, {"value", "snapshot": True, "epoch", "seq"}), seq
        being the snapshot's seq of the topic's source; live ones as (topic, payload). A gap in
        a source's seq or a new epoch brings the session events missed meanwhile (read with
        `get_events`, as (topic, {"value", "event_seq", "ts", "epoch", "replayed": True})), then
        a new snapshot. With `idle_timeout_s`, the iterator ends after that long without a
        publication.
        """
        if self.publish_endpoint is None:
            raise ValueError("watch needs the publish endpoint")
        return watch(self, self.publish_endpoint, prefix, idle_timeout_s)


def rfc3339(moment: dt.datetime) -> str:
    """An aware datetime as RFC 3339 in UTC with milliseconds, e.g. 2030-01-31T12:00:00.000Z."""
    if moment.tzinfo is None:
        raise ValueError("a date for the station needs a timezone (e.g. datetime.now(timezone.utc))")
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
