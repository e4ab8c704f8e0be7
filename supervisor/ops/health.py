"""The station's health as systemd sees it: READY once every connector answers, then WATCHDOG.

    watchdog = Watchdog(StationHealth(station), command_endpoint, notifier, interval_s)
                     # (a process-isolated station's root is its own Health)
    watchdog.start(timeout_s, ready) # on its thread: READY=1 once every connector's session
                                     # actor answered, `ready(silent)`, then WATCHDOG=1 every
                                     # interval while `problems()` is empty
    watchdog.stop()                  # STOPPING=1

Healthy means every connector supervisor's loop takes its turns (`Supervisor.loop_alive`)
and the API's request loop answers a `ping` on the command endpoint. While anything is
unhealthy no WATCHDOG=1 is sent, so systemd restarts a station that stays stuck past
WatchdogSec; STATUS= says what is wrong, and says it again when it is over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from supervisor.client import ApiError, Client
from supervisor.ops.notify import Notifier
from supervisor.station import Station
from supervisor.tree import Ping

log = logging.getLogger("evse_supervisor.health")

API_PING_TIMEOUT_S = 1.0
STATUS_INTERVAL_S = 1.0  # STATUS= and the checks, without a systemd watchdog


class Health(Protocol):
    """What the watchdog asks of a station."""

    def silent(self, timeout_s: float) -> list[str]:
        """Whatever does not answer within `timeout_s` (every connector's session actor)."""
        ...

    def stalled(self) -> list[str]:
        """Supervisor loops that do not take their turns, each named."""
        ...

    def tally(self) -> tuple[Counter[str], int, int]:
        """(connectors by state, failures, restarts)."""
        ...


class StationHealth:
    """A thread-isolated station's health, read off its connectors."""

    def __init__(self, station: Station) -> None:
        self._station = station

    def silent(self, timeout_s: float) -> list[str]:
        deadline = time.monotonic() + timeout_s
        silent = []
        for connector in self._station.connectors:
            try:
                connector.tree.ask("session", Ping(), max(0.01, deadline - time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - any failure means it did not answer
                silent.append(f"evse {connector.index}: {exc}")
        return silent

    def stalled(self) -> list[str]:
        return [f"evse {index} supervisor loop stalled" for index in self._station.stalled_connectors()]

    def tally(self) -> tuple[Counter[str], int, int]:
        states = Counter(c.state_name().value for c in self._station.connectors)
        counts = [c.tree.counts() for c in self._station.connectors]
        return states, sum(failures for _, failures in counts), sum(restarts for restarts, _ in counts)


class Watchdog:
    def __init__(
        self, health: Health, command_endpoint: str, notifier: Notifier, interval_s: float | None
    ) -> None:
        self._health = health
        self._notifier = notifier
        self._interval_s = interval_s
        self._client = Client(command_endpoint, timeout_s=API_PING_TIMEOUT_S, retries=0, client_id="watchdog")
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._problems: list[str] = []

    def wait_ready(self, timeout_s: float) -> list[str]:
        """Ask every connector's session actor once; READY=1 when all answered, else what did not."""
        silent = self._health.silent(timeout_s)
        if not silent:
            self._notifier.send("READY=1", f"STATUS={self.summary()}")
        return silent

    def problems(self) -> list[str]:
        """What is unhealthy now; empty when all is well."""
        found = self._health.stalled()
        try:
            self._client.ping()
        except (ApiError, TimeoutError) as exc:
            found.append(f"API request loop does not answer: {exc}")
        return found

    def summary(self) -> str:
        """One line: connectors by state, failures and restarts, and what is wrong if anything.

        `failures` counts each actor that died or hung once; `restarts` every generation after
        the first, siblings a failure took along included: the two columns of `evsectl status`.
        """
        states, failures, restarts = self._health.tally()
        by_state = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        line = (
            f"{sum(states.values())} connectors: {by_state}; "
            f"{_counted(failures, 'failure')} ({_counted(restarts, 'restart')})"
        )
        return f"{line}; unhealthy: {'; '.join(self._problems)}" if self._problems else line

    def start(self, ready_timeout_s: float, ready: Callable[[list[str]], object]) -> None:
        """Wait for the connectors on the watchdog's own thread, so signals are served meanwhile.

        `ready` gets what did not answer within `ready_timeout_s` (empty: READY=1 was sent).
        """
        self._thread = threading.Thread(
            target=self._run, args=(ready_timeout_s, ready), name="watchdog", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._notifier.send("STOPPING=1", "STATUS=stopping: power off on every connector")
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=API_PING_TIMEOUT_S + 0.5)
        self._client.close()

    def _run(self, ready_timeout_s: float, ready: Callable[[list[str]], object]) -> None:
        try:
            ready(self.wait_ready(ready_timeout_s))
        except Exception:
            log.exception("the readiness check failed")
        interval_s = min(self._interval_s or STATUS_INTERVAL_S, STATUS_INTERVAL_S)
        while not self._halt.wait(interval_s):
            try:
                self._beat()
            except Exception:
                log.exception("the health check failed")

    def _beat(self) -> None:
        problems = self.problems()
        if problems != self._problems:
            if problems:
                log.error("unhealthy, systemd's watchdog is not fed: %s", "; ".join(problems))
            else:
                log.info("healthy again (was: %s)", "; ".join(self._problems))
            self._problems = problems
        lines = [f"STATUS={self.summary()}"]
        if not problems and self._interval_s is not None:
            lines.append("WATCHDOG=1")
        self._notifier.send(*lines)


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
