"""The failure plan: what a supervisor does when one of its children dies, hangs or exits.

A pure function of the restart type, the kind of death, the strategy, the children's
states and the restart intensity; the supervisor carries the plan out. Tested as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from supervisor.tree.lease import FailureKind
from supervisor.tree.specs import ChildState, EventKind, RestartType, Strategy

__all__ = ["ChildView", "Death", "FailurePlan", "plan_failure", "restarts"]

Death = Literal["crashed", "hung", "exited"]


@dataclass(frozen=True)
class ChildView:
    """What the plan needs to know of one child."""

    role: str
    restart: RestartType
    state: ChildState


@dataclass(frozen=True)
class FailurePlan:
    """What to do, in this order: publish `event`, stop `stop` (in that order), then either
    give up (stop every child) or schedule `restart` (in start order) after the backoff."""

    event: EventKind | None  # crashed or hung; None for an exit that needs no restart
    keep_reason: bool  # the reason becomes the child's last failure
    counted: bool  # the failure counts against the restart intensity
    give_up: bool
    stop: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()


def restarts(restart: RestartType, death: Death) -> bool:
    """Whether a child of this restart type is started again after this kind of death."""
    return restart == "permanent" or (restart == "transient" and death != "exited")


def plan_failure(
    strategy: Strategy,
    children: Sequence[ChildView],
    failed: str,
    death: Death,
    recent_failures: int,
    intensity: int,
    kind: FailureKind = "counted",
) -> FailurePlan:
    """The plan for `failed` (already out of `running`) dying by `death`.

    `recent_failures` counts the failures already in the intensity window; one more than
    `intensity` gives up; an "uncounted" failure never does, a "fatal" one always. Siblings
    the strategy takes along are stopped (running ones, last first) and started again with
    the failed child, unless they are temporary.
    """
    child = next(c for c in children if c.role == failed)
    restart = restarts(child.restart, death)
    event: EventKind | None = None
    if death != "exited" or restart:
        event = "hung" if death == "hung" else "crashed"
    keep_reason = death != "exited"
    if not restart:
        return FailurePlan(event, keep_reason, counted=False, give_up=False)
    counted = kind == "counted"
    if kind == "fatal" or (counted and recent_failures + 1 > intensity):
        return FailurePlan(event, keep_reason, counted=counted, give_up=True)
    siblings = _taken_along(strategy, children, failed)
    stop = tuple(s.role for s in reversed(siblings) if s.state == "running")
    again = [s.role for s in siblings if s.restart != "temporary" and s.state != "stopped"]
    order = [c.role for c in children]
    restart_roles = tuple(sorted([failed, *again], key=order.index))
    return FailurePlan(event, keep_reason, counted=counted, give_up=False, stop=stop, restart=restart_roles)


def _taken_along(strategy: Strategy, children: Sequence[ChildView], failed: str) -> list[ChildView]:
    if strategy == "one_for_all":
        return [c for c in children if c.role != failed]
    if strategy == "rest_for_one":
        index = next(i for i, c in enumerate(children) if c.role == failed)
        return list(children[index + 1 :])
    return []
