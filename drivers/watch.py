"""How long a device has been away: every driver call goes through a watch.

A device is away from its first failed call after a good one until its next good call.
A call that fails once the device has been away for `device_loss_s` or longer raises
`DeviceLost` (still a `DriverError`): the supervisor restarts the actor for a shorter
outage without counting it, and gives the connector up for a longer one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from drivers.base import (
    Board,
    BoardCapabilities,
    BoardStatus,
    DeviceLost,
    DriverError,
    Meter,
    MeterReading,
    PilotSignal,
    ReadingContext,
    Telemetry,
)
from drivers.clock import Clock

_T = TypeVar("_T")


class Watch:
    """One device's outage clock (thread-safe)."""

    def __init__(self, name: str, clock: Clock, device_loss_s: float) -> None:
        self.name = name
        self._clock = clock
        self._device_loss_s = device_loss_s
        self._lock = threading.Lock()
        self._away_since_s: float | None = None

    def away_s(self) -> float:
        """Seconds since the first failed call after the last good one (0 while it answers)."""
        with self._lock:
            if self._away_since_s is None:
                return 0.0
            return max(0.0, self._clock.monotonic() - self._away_since_s)

    def call(self, operation: Callable[[], _T]) -> _T:
        """Run one driver call; a failure past `device_loss_s` becomes `DeviceLost`."""
        try:
            result = operation()
        except DriverError as exc:
            away_s = self._failed()
            if away_s >= self._device_loss_s and not isinstance(exc, DeviceLost):
                raise DeviceLost(f"{self.name} away for {away_s:.1f} s: {exc}") from exc
            raise
        with self._lock:
            self._away_since_s = None
        return result

    def _failed(self) -> float:
        with self._lock:
            now_s = self._clock.monotonic()
            if self._away_since_s is None:
                self._away_since_s = now_s
            return now_s - self._away_since_s


class WatchedBoard(Board):
    """A board whose every call goes through `watch`."""

    def __init__(self, board: Board, watch: Watch) -> None:
        self.inner = board
        self.watch = watch

    def capabilities(self) -> BoardCapabilities:
        return self.watch.call(self.inner.capabilities)

    def status(self) -> BoardStatus:
        return self.watch.call(self.inner.status)

    def set_pilot(self, signal: PilotSignal) -> None:
        self.watch.call(lambda: self.inner.set_pilot(signal))

    def allow_power(self, allowed: bool) -> None:
        self.watch.call(lambda: self.inner.allow_power(allowed))

    def set_lock(self, locked: bool) -> bool:
        return self.watch.call(lambda: self.inner.set_lock(locked))

    def switch_phases(self, three_phases: bool) -> None:
        self.watch.call(lambda: self.inner.switch_phases(three_phases))

    def telemetry(self) -> Telemetry:
        return self.watch.call(self.inner.telemetry)

    def on_change(self, notify: Callable[[], None]) -> bool:
        return self.inner.on_change(notify)

    def on_report(self, interval_s: float, notify: Callable[[], None]) -> bool:
        return self.inner.on_report(interval_s, notify)

    def reported(self) -> tuple[BoardStatus, Telemetry]:
        return self.watch.call(self.inner.reported)


class WatchedMeter(Meter):
    """A meter whose every call goes through `watch`."""

    def __init__(self, meter: Meter, watch: Watch) -> None:
        self.inner = meter
        self.watch = watch

    def reading(self) -> MeterReading:
        return self.watch.call(self.inner.reading)

    def signed_reading(self, token: str | None, context: ReadingContext) -> str:
        return self.watch.call(lambda: self.inner.signed_reading(token, context))

    def public_key_pem(self) -> str | None:
        return self.watch.call(self.inner.public_key_pem)

    def on_report(self, interval_s: float, notify: Callable[[], None]) -> bool:
        return self.inner.on_report(interval_s, notify)

    def reported(self) -> MeterReading:
        return self.watch.call(self.inner.reported)
