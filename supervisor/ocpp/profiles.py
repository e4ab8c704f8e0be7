"""Charging profiles (OCPP 1.6 SmartCharging) and the composite schedule: pure functions.

A connector's limit at a moment is its TxProfile's if one is in force there, else its
TxDefaultProfile's (one on the connector or on connector 0); within a purpose the highest
stackLevel in force wins (on a tie the connector's own over connector 0's). The station's
limit is the ChargePointMaxProfile's. A limit in W is converted to A at 230 V per phase in
use (the period's numberPhases, else the connector's phases). `schedule` samples a limit
function at every moment a profile can change within a window: the composite schedule.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

VOLTS_PER_PHASE = 230.0
CHARGE_POINT_MAX, TX_DEFAULT, TX = "ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"
PURPOSES = (CHARGE_POINT_MAX, TX_DEFAULT, TX)
KINDS = ("Absolute", "Recurring", "Relative")
RECURRENCES = {"Daily": 86400.0, "Weekly": 7 * 86400.0}
UNITS = ("A", "W")


class ProfileError(ValueError):
    """A profile the charge point cannot take (SetChargingProfile answers Rejected)."""


@dataclass(frozen=True)
class Period:
    start_s: float  # from the schedule's start
    limit: float  # in the profile's unit
    phases: int | None = None


@dataclass(frozen=True)
class Profile:
    id: int
    connector: int
    stack_level: int
    purpose: str
    kind: str
    unit: str  # A or W
    periods: tuple[Period, ...]
    recurrency: str | None = None
    start_s: float | None = None  # startSchedule (Unix seconds)
    duration_s: float | None = None
    valid_from_s: float | None = None
    valid_to_s: float | None = None
    transaction_id: int | None = None
    received_s: float = 0.0  # when it was set: the start of an Absolute one without startSchedule

    def start_at(self, t: float, tx_start_s: float | None) -> float:
        """When the schedule in force at `t` started."""
        if self.kind == "Relative":
            return tx_start_s if tx_start_s is not None else t
        start = self.start_s if self.start_s is not None else self.received_s
        if self.kind == "Recurring" and self.recurrency in RECURRENCES:
            every = RECURRENCES[self.recurrency]
            start += math.floor((t - start) / every) * every
        return start

    def period_at(self, t: float, tx_start_s: float | None = None) -> Period | None:
        """The period in force at `t`, None when the profile is not in force then."""
        if self.valid_from_s is not None and t < self.valid_from_s:
            return None
        if self.valid_to_s is not None and t >= self.valid_to_s:
            return None
        elapsed = t - self.start_at(t, tx_start_s)
        if elapsed < 0 or (self.duration_s is not None and elapsed >= self.duration_s):
            return None
        found = None
        for period in self.periods:
            if period.start_s <= elapsed:
                found = period
        return found

    def changes(self, t0: float, t1: float, tx_start_s: float | None) -> set[float]:
        """Every moment in [t0, t1) at which the profile's limit may change."""
        moments = {m for m in (self.valid_from_s, self.valid_to_s) if m is not None}
        starts = {self.start_at(t0, tx_start_s)}
        if self.kind == "Recurring" and self.recurrency in RECURRENCES:
            every = RECURRENCES[self.recurrency]
            start = min(starts)
            while start < t1:
                start += every
                starts.add(start)
        for start in starts:
            moments.update(start + p.start_s for p in self.periods)
            if self.duration_s is not None:
                moments.add(start + self.duration_s)
        return {m for m in moments if t0 <= m < t1}


def amperes(limit: float, unit: str, phases: int) -> float:
    """A limit per phase in A: a limit in W at 230 V per phase on `phases` phases."""
    return limit if unit == "A" else limit / (VOLTS_PER_PHASE * max(1, phases))


def in_unit(amperes_a: float, unit: str, phases: int) -> float:
    return amperes_a if unit == "A" else amperes_a * VOLTS_PER_PHASE * max(1, phases)


def winner(profiles: Iterable[Profile], t: float, tx_start_s: float | None) -> tuple[Profile, Period] | None:
    """The profile in force at `t` with the highest stack level (its connector's own first on a tie)."""
    ranked = sorted(profiles, key=lambda p: (p.stack_level, p.connector != 0), reverse=True)
    for profile in ranked:
        period = profile.period_at(t, tx_start_s)
        if period is not None:
            return profile, period
    return None


def connector_limit_a(
    profiles: Sequence[Profile], connector: int, t: float, tx_start_s: float | None, phases: int
) -> float | None:
    """The connector's OCPP limit at `t` (A per phase): TxProfile over TxDefaultProfile; None: none."""
    own = [p for p in profiles if p.purpose == TX and p.connector == connector]
    default = [p for p in profiles if p.purpose == TX_DEFAULT and p.connector in (0, connector)]
    for group in (own, default):
        found = winner(group, t, tx_start_s)
        if found is not None:
            profile, period = found
            return amperes(period.limit, profile.unit, period.phases or phases)
    return None


def station_limit_a(profiles: Sequence[Profile], t: float, phases: int) -> float | None:
    """ChargePointMaxProfile's limit at `t` (A per phase), None when none is in force."""
    found = winner((p for p in profiles if p.purpose == CHARGE_POINT_MAX), t, None)
    if found is None:
        return None
    profile, period = found
    return amperes(period.limit, profile.unit, period.phases or phases)


def schedule(
    limit_at: Callable[[float], float], moments: Iterable[float], t0: float, duration_s: float
) -> list[tuple[float, float]]:
    """(seconds from t0, limit) at t0 and at each moment the limit changes within the window."""
    periods: list[tuple[float, float]] = []
    for moment in sorted({t0, *(m for m in moments if t0 < m < t0 + duration_s)}):
        limit = round(limit_at(moment), 1)
        if not periods or periods[-1][1] != limit:
            periods.append((round(moment - t0), limit))
    return periods


# --- from the wire ---------------------------------------------------------------------------------


def parse(connector: int, raw: dict[str, Any], received_s: float) -> Profile:
    """A csChargingProfiles (snake_case keys, as the library hands it over) on `connector`."""
    try:
        return _parse(connector, raw, received_s)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"charging profile: {exc}") from None


def _parse(connector: int, raw: dict[str, Any], received_s: float) -> Profile:
    purpose, kind = raw["charging_profile_purpose"], raw["charging_profile_kind"]
    if purpose not in PURPOSES or kind not in KINDS:
        raise ValueError(f"purpose {purpose!r} / kind {kind!r} not known")
    if (purpose == CHARGE_POINT_MAX and connector != 0) or (purpose == TX and connector == 0):
        raise ValueError("ChargePointMaxProfile goes on connector 0, a TxProfile on a connector")
    schedule_ = raw["charging_schedule"]
    unit = schedule_["charging_rate_unit"]
    periods = tuple(
        Period(float(p["start_period"]), float(p["limit"]), p.get("number_phases"))
        for p in schedule_["charging_schedule_period"]
    )
    if unit not in UNITS or not periods or periods[0].start_s != 0:
        raise ValueError("a schedule needs a unit (A or W) and periods from 0 on")
    if any(b.start_s <= a.start_s for a, b in itertools.pairwise(periods)):
        raise ValueError("periods must start in increasing order")
    if any(p.limit < 0 or not math.isfinite(p.limit) for p in periods):
        raise ValueError("limits must be finite and >= 0")
    recurrency = raw.get("recurrency_kind")
    if kind == "Recurring" and (recurrency not in RECURRENCES or not schedule_.get("start_schedule")):
        raise ValueError("a Recurring profile needs recurrencyKind and startSchedule")
    return Profile(
        id=int(raw["charging_profile_id"]),
        connector=connector,
        stack_level=int(raw["stack_level"]),
        purpose=purpose,
        kind=kind,
        unit=unit,
        periods=periods,
        recurrency=recurrency,
        start_s=_unix_s(schedule_.get("start_schedule")),
        duration_s=None if schedule_.get("duration") is None else float(schedule_["duration"]),
        valid_from_s=_unix_s(raw.get("valid_from")),
        valid_to_s=_unix_s(raw.get("valid_to")),
        transaction_id=raw.get("transaction_id"),
        received_s=received_s,
    )


def _unix_s(date: str | None) -> float | None:
    if not date:
        return None
    return datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()
