"""Health: the handshake of a new generation, and the scan that finds hung and silently dead ones.

A generation is hung when its lease shows it in one handler for `ping_timeout_s` or
more (`Lease.busy_since_s`), so a scan every `ping_interval_s` finds it within
`ping_interval_s + ping_timeout_s` without sending it anything. An actor that stopped
without a report is judged at the next round after it is first seen dead (its report
may still be on its way).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pykka

from supervisor.tree.children import Child
from supervisor.tree.lease import FailureKind
from supervisor.tree.plan import Death
from supervisor.tree.settings import SupervisionSettings
from supervisor.tree.supervised import Ping

__all__ = ["Health", "Report"]


@dataclass(frozen=True)
class Report:
    """News of one generation's end, from itself (its lease) or from the health scan."""

    role: str
    generation: int
    death: Death
    reason: str
    kind: FailureKind = "counted"


class Health:
    """Judges one supervisor's running children on its clock; scans may run on any thread."""

    def __init__(self, limits: SupervisionSettings, handshake_message: Any = None) -> None:
        self._limits = limits
        self._handshake_message = Ping() if handshake_message is None else handshake_message
        self._lock = threading.Lock()
        self._next_round_s = 0.0

    def restart_rounds(self, now_s: float) -> None:
        with self._lock:
            self._next_round_s = now_s + self._limits.ping_interval_s

    def scan(self, children: Sequence[Child], now_s: float) -> list[Report]:
        """Reports for the running children found hung now, or dead at a round."""
        with self._lock:
            is_round = now_s >= self._next_round_s
            if is_round:
                self._next_round_s = now_s + self._limits.ping_interval_s
            return [
                report for child in children if (report := self._judge(child, now_s, is_round)) is not None
            ]

    def _judge(self, child: Child, now_s: float, is_round: bool) -> Report | None:
        lease, ref = child.lease, child.ref
        if child.state != "running" or lease is None or ref is None:
            return None
        busy_since_s = lease.busy_since_s
        timeout_s = self._limits.ping_timeout_s
        if busy_since_s is not None and now_s - busy_since_s >= timeout_s:
            return Report(child.role, lease.generation, "hung", f"no answer within {timeout_s} s")
        if not is_round or ref.is_alive():
            return None
        if not child.seen_dead:
            child.seen_dead = True
            return None
        return Report(child.role, lease.generation, "crashed", "stopped without a report")

    def handshake(self, ref: pykka.ActorRef[Any]) -> tuple[Death, str] | None:
        """Wait for the new actor to answer: proof that its `on_start` succeeded."""
        timeout_s = self._limits.ping_timeout_s
        try:
            ref.ask(self._handshake_message, timeout=timeout_s)
        except pykka.ActorDeadError:
            return ("crashed", "on_start failed")
        except pykka.Timeout:
            return ("hung", f"on_start did not finish within {timeout_s} s")
        except Exception:  # noqa: BLE001 - an error reply still proves the loop runs
            return None
        return None
