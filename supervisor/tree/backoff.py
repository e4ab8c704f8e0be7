"""Restart pacing: exponential backoff with jitter, and the restart intensity window."""

from __future__ import annotations

import random
from collections import deque

from supervisor.tree.settings import SupervisionSettings

JITTER = 0.2  # a delay varies by ±20 %


def restart_delay_s(streak: int, limits: SupervisionSettings, rng: random.Random) -> float:
    """The delay before the restart that follows the `streak`-th failure in a row (1-based).

    The first restart is immediate; the next ones start at `backoff_min_s` and double up to
    `backoff_max_s`, each varied by ±20 % and never above `backoff_max_s`.
    """
    if streak <= 1:
        return 0.0
    base_s = min(limits.backoff_max_s, limits.backoff_min_s * 2.0 ** min(streak - 2, 64))
    jittered_s = base_s * rng.uniform(1.0 - JITTER, 1.0 + JITTER)
    return min(limits.backoff_max_s, jittered_s)


class Backoff:
    """One child's failure streak; it starts over after `period_s` without a failure."""

    def __init__(self, limits: SupervisionSettings, rng: random.Random) -> None:
        self._limits = limits
        self._rng = rng
        self._streak = 0
        self._last_failure_s: float | None = None

    def next_delay_s(self, now_s: float) -> float:
        """Record a failure at `now_s` and return how long to wait before restarting."""
        quiet = self._last_failure_s is None or now_s - self._last_failure_s >= self._limits.period_s
        self._streak = 1 if quiet else self._streak + 1
        self._last_failure_s = now_s
        return restart_delay_s(self._streak, self._limits, self._rng)

    def reset(self) -> None:
        self._streak = 0
        self._last_failure_s = None


class IntensityWindow:
    """Counts failures within a sliding window; more than `intensity` of them is too many."""

    def __init__(self, intensity: int, period_s: float) -> None:
        self._intensity = intensity
        self._period_s = period_s
        self._failures_s: deque[float] = deque()

    def record(self, now_s: float) -> bool:
        """Record a failure at `now_s`; True when the window now holds too many."""
        self._failures_s.append(now_s)
        return self.recent(now_s) > self._intensity

    def recent(self, now_s: float) -> int:
        """How many failures the window holds at `now_s`."""
        while self._failures_s and now_s - self._failures_s[0] >= self._period_s:
            self._failures_s.popleft()
        return len(self._failures_s)

    def count(self) -> int:
        return len(self._failures_s)

    def reset(self) -> None:
        self._failures_s.clear()
