"""Running the station in production: logging, systemd, metrics, reload, one station per state dir."""

from supervisor.ops.event_log import EventLog
from supervisor.ops.health import Health, StationHealth, Watchdog
from supervisor.ops.logs import LOG_FORMATS, LogFormat, LogSetup, about, configure_logging, parse_level
from supervisor.ops.metrics import StationMetrics
from supervisor.ops.notify import Notifier, watchdog_interval_s
from supervisor.ops.preflight import preflight
from supervisor.ops.reload import Reloader
from supervisor.ops.requests import RequestRecorder
from supervisor.ops.statelock import StartRefused, StateLock, running_pid

__all__ = [
    "LOG_FORMATS",
    "EventLog",
    "Health",
    "LogFormat",
    "LogSetup",
    "Notifier",
    "Reloader",
    "RequestRecorder",
    "StartRefused",
    "StateLock",
    "StationHealth",
    "StationMetrics",
    "Watchdog",
    "about",
    "configure_logging",
    "parse_level",
    "preflight",
    "running_pid",
    "watchdog_interval_s",
]
