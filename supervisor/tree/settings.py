"""The limits of one supervisor: restart intensity, backoff and liveness."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SupervisionSettings:
    intensity: int = 5  # failures allowed ...
    period_s: float = 30.0  # ... within this window, per connector
    backoff_min_s: float = 0.05
    backoff_max_s: float = 5.0
    ping_interval_s: float = 0.5
    ping_timeout_s: float = 1.0
    device_loss_s: float = 30.0  # a device away for less never costs its connector (drivers.md)
