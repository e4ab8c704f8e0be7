"""SmartCharging: SetChargingProfile, ClearChargingProfile, GetCompositeSchedule, and their effect.

The profiles are kept in the bridge's journal (they outlive a restart). `apply` hands the
station's allocation OCPP's inputs of their own: each connector's composite schedule now,
and ChargePointMaxProfile's station limit; it runs after every change and every second (a
schedule moves with time), so a change takes effect within a control cycle. A TxProfile
lives as long as its transaction: it goes when the transaction ends.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from supervisor.ocpp.configuration import MAX_PERIODS, MAX_PROFILES, MAX_STACK_LEVEL
from supervisor.ocpp.context import Context
from supervisor.ocpp.payloads import timestamp
from supervisor.ocpp.profiles import (
    TX,
    Profile,
    ProfileError,
    connector_limit_a,
    in_unit,
    parse,
    schedule,
    station_limit_a,
)

log = logging.getLogger(__name__)

PROFILES = "profiles"  # the journal's key: [{connector, received_s, profile (snake_case)}]
GRID_PHASES = 3
APPLY_TIMEOUT_S = 5.0


class SmartCharging:
    def __init__(self, ctx: Context, kept: list[dict[str, Any]], clock: Any = time.time) -> None:
        self._ctx = ctx
        self._clock = clock
        self._raw: dict[int, dict[str, Any]] = {}  # by chargingProfileId, as kept
        self._profiles: dict[int, Profile] = {}
        self._tx_started: dict[int, tuple[int, float]] = {}  # connector → (transactionId, seen at)
        self._pending: dict[int, dict[str, Any]] = {}  # RemoteStart's chargingProfile, by connector
        for entry in kept:
            try:
                self._add(int(entry["connector"]), entry["profile"], float(entry["received_s"]))
            except (KeyError, TypeError, ValueError) as exc:
                log.error("a kept charging profile is not one: %r (%s); dropped", entry, exc)

    # --- the calls -----------------------------------------------------------------------------

    @on(Action.set_charging_profile)
    async def on_set(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> call_result.SetChargingProfile:
        status = await self._set(connector_id, cs_charging_profiles)
        return call_result.SetChargingProfile(status=status)

    async def _set(self, connector_id: int, raw: dict[str, Any]) -> str:
        if not self._ctx.valid_connector(connector_id, zero=True):
            return "Rejected"
        try:
            profile = parse(connector_id, raw, self._clock())
        except ProfileError as exc:
            log.warning("SetChargingProfile rejected: %s", exc)
            return "Rejected"
        if not self._fits(profile) or (profile.purpose == TX and not await self._in_transaction(profile)):
            return "Rejected"
        self._add(connector_id, raw, profile.received_s)
        await self._keep()
        return "Accepted"

    def _fits(self, profile: Profile) -> bool:
        replaced = len(self._replaced_by(profile))
        return (
            0 <= profile.stack_level <= MAX_STACK_LEVEL
            and len(profile.periods) <= MAX_PERIODS
            and len(self._profiles) - replaced < MAX_PROFILES
        )

    async def _in_transaction(self, profile: Profile) -> bool:
        """A TxProfile needs its connector's transaction (the one it names, when it names one)."""
        transaction = await self._ctx.open_transaction(profile.connector)
        if transaction is None or transaction.transaction_id is None:
            return False
        return profile.transaction_id in (None, transaction.transaction_id)

    @after(Action.set_charging_profile)
    async def after_set(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> None:
        await self.apply()

    @on(Action.clear_charging_profile)
    async def on_clear(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
    ) -> call_result.ClearChargingProfile:
        gone = [
            p.id
            for p in self._profiles.values()
            if (id is None or p.id == id)
            and (id is not None or connector_id is None or p.connector == connector_id)
            and (id is not None or charging_profile_purpose in (None, p.purpose))
            and (id is not None or stack_level in (None, p.stack_level))
        ]
        for profile_id in gone:
            self._remove(profile_id)
        if gone:
            await self._keep()
        return call_result.ClearChargingProfile(status="Accepted" if gone else "Unknown")

    @after(Action.clear_charging_profile)
    async def after_clear(self, **criteria: Any) -> None:
        await self.apply()

    @on(Action.get_composite_schedule)
    async def on_composite(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> call_result.GetCompositeSchedule:
        if not self._ctx.valid_connector(connector_id, zero=True) or duration < 0:
            return call_result.GetCompositeSchedule(status="Rejected")
        self._note_transactions(await self._ctx.io(self._open_transactions))
        now = self._clock()
        unit = "W" if charging_rate_unit == "W" else "A"
        tx_start = min(self._tx_start(connector_id) or now, now)  # a Relative one starts now without one
        limit_at, phases = self._limit_function(connector_id, tx_start)
        moments = {m for p in self._profiles.values() for m in p.changes(now, now + duration, tx_start)}
        periods = schedule(limit_at, moments, now, duration)
        composite = {
            "duration": duration,
            "start_schedule": timestamp(now),
            "charging_rate_unit": unit,
            "charging_schedule_period": [
                {"start_period": int(start), "limit": round(in_unit(limit, unit, phases), 1)}
                for start, limit in periods
            ],
        }
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=timestamp(now),
            charging_schedule=composite,
        )

    # --- what is applied -------------------------------------------------------------------------

    def _limit_function(self, connector_id: int, tx_start: float) -> tuple[Any, int]:
        """The limit in A at a moment (without a profile in force: what the connectors may draw)."""
        connectors = self._ctx.connectors
        profiles = list(self._profiles.values())
        if connector_id == 0:
            ceiling = sum(connectors.facts(i).max_current_a for i in range(1, connectors.count() + 1))

            def station(t: float) -> float:
                found = station_limit_a(profiles, t, GRID_PHASES)
                return ceiling if found is None else min(found, ceiling)

            return station, GRID_PHASES
        facts = connectors.facts(connector_id)

        def connector(t: float) -> float:
            found = connector_limit_a(profiles, connector_id, t, tx_start, facts.phases)
            return facts.max_current_a if found is None else min(found, facts.max_current_a)

        return connector, facts.phases

    def limits_now(self) -> tuple[float | None, dict[int, float]]:
        """ChargePointMaxProfile's station limit and each connector's schedule now (A per phase)."""
        now = self._clock()
        profiles = list(self._profiles.values())
        evses: dict[int, float] = {}
        for index in range(1, self._ctx.connectors.count() + 1):
            phases = self._ctx.connectors.facts(index).phases
            limit = connector_limit_a(profiles, index, now, self._tx_start(index), phases)
            if limit is not None:
                evses[index] = round(limit, 1)
        station = station_limit_a(profiles, now, GRID_PHASES)
        return (None if station is None else round(station, 1)), evses

    async def apply(self) -> None:
        """The limits of now handed to the allocation; TxProfiles of ended transactions dropped."""
        if self._note_transactions(await self._ctx.io(self._open_transactions)):
            await self._keep()
        station, evses = self.limits_now()
        try:
            await self._ctx.io(self._ctx.connectors.set_ocpp_limits, station, evses, APPLY_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the allocation takes them at its next cycle
            log.warning("OCPP limits not applied now: %r", exc)

    def remote_start_profile(self, connector: int, raw: dict[str, Any]) -> bool:
        """RemoteStart's chargingProfile: a TxProfile for the transaction it starts; False if not one."""
        if raw.get("charging_profile_purpose") != TX:
            return False
        try:
            parse(connector, raw, self._clock())
        except ProfileError:
            return False
        self._pending[connector] = raw
        return True

    def _open_transactions(self) -> dict[int, int | None]:
        """On the worker: the connectors with a transaction on, and its transactionId once known."""
        return {t.connector: t.transaction_id for t in self._ctx.store.open_transactions()}

    def _note_transactions(self, on: dict[int, int | None]) -> bool:
        """Note the transactions on; TxProfiles whose transaction ended go (True when some went)."""
        for connector, transaction_id in on.items():
            if transaction_id is not None and self._tx_started.get(connector, (None,))[0] != transaction_id:
                self._tx_started[connector] = (transaction_id, self._clock())
            pending = self._pending.pop(connector, None) if transaction_id is not None else None
            if pending is not None:
                self._add(connector, {**pending, "transaction_id": transaction_id}, self._clock())
        for connector in [c for c in self._tx_started if c not in on]:
            del self._tx_started[connector]
        ended = [p.id for p in self._profiles.values() if p.purpose == TX and p.connector not in on]
        for profile_id in ended:
            self._remove(profile_id)
        return bool(ended)

    def _tx_start(self, connector: int) -> float | None:
        started = self._tx_started.get(connector)
        return None if started is None else started[1]

    # --- the set ---------------------------------------------------------------------------------

    def _replaced_by(self, profile: Profile) -> list[int]:
        """The same id, or the same stack level and purpose on the same connector (OCPP 1.6 3.13.2)."""
        return [
            p.id
            for p in self._profiles.values()
            if p.id == profile.id
            or (p.connector, p.purpose, p.stack_level)
            == (profile.connector, profile.purpose, profile.stack_level)
        ]

    def _add(self, connector: int, raw: dict[str, Any], received_s: float) -> None:
        profile = parse(connector, raw, received_s)
        for profile_id in self._replaced_by(profile):
            self._remove(profile_id)
        self._profiles[profile.id] = profile
        self._raw[profile.id] = {"connector": connector, "received_s": received_s, "profile": raw}

    def _remove(self, profile_id: int) -> None:
        self._profiles.pop(profile_id, None)
        self._raw.pop(profile_id, None)

    async def _keep(self) -> None:
        await self._ctx.io(self._ctx.store.keep, PROFILES, list(self._raw.values()))
