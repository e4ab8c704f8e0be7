"""What a supervisor is told (child specs) and what it tells (supervision events)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pykka

from supervisor.tree.lease import Lease

Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
RestartType = Literal["permanent", "transient", "temporary"]
EventKind = Literal["started", "crashed", "restarted", "hung", "escalated", "gave_up"]
ChildState = Literal["running", "restarting", "stopped"]


@dataclass(frozen=True)
class ChildSpec:
    """How to start one child; `start` receives the generation's lease and returns its ref."""

    role: str
    start: Callable[[Lease], pykka.ActorRef[Any]]
    restart: RestartType = "permanent"
    shutdown_timeout_s: float = 1.0


@dataclass(frozen=True)
class SupervisionEvent:
    name: str  # the supervisor's name (a connector, or the station)
    role: str
    event: EventKind
    generation: int
    reason: str
    restarts: int
