"""systemd's service notification protocol (sd_notify): one datagram per message, to NOTIFY_SOCKET.

    notifier = Notifier.from_environment()   # does nothing when systemd did not ask for it
    notifier.send("READY=1", "STATUS=serving 2 connectors")
    watchdog_interval_s()                    # half of WatchdogSec, or None without a watchdog

The socket is a path, or an abstract socket when it starts with "@" (sd_notify(3)).
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("evse_supervisor.systemd")


class Notifier:
    def __init__(self, address: str | None) -> None:
        self._address = "\0" + address[1:] if address and address.startswith("@") else address
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environment(cls) -> Notifier:
        return cls(os.environ.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *lines: str) -> bool:
        """Send the lines as one message; False (and a warning) when systemd is not reachable."""
        if self._socket is None or self._address is None:
            return False
        try:
            self._socket.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval_s() -> float | None:
    """How often to send WATCHDOG=1: half of systemd's WATCHDOG_USEC, when it is meant for us."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
