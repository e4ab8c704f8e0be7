"""Hardware contracts and their implementations."""

from drivers.base import (
    Board,
    BoardCapabilities,
    BoardStatus,
    CPState,
    DeviceLost,
    DriverError,
    Meter,
    MeterReading,
    PilotSignal,
    Telemetry,
)
from drivers.clock import Clock, FakeClock, SystemClock

__all__ = [
    "Board",
    "BoardCapabilities",
    "BoardStatus",
    "CPState",
    "Clock",
    "DeviceLost",
    "DriverError",
    "FakeClock",
    "Meter",
    "MeterReading",
    "PilotSignal",
    "SystemClock",
    "Telemetry",
]
