"""A supervisor as the child of another: its giving up is the parent's news of a failure."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

import pykka

from supervisor.tree.lease import Lease
from supervisor.tree.specs import ChildSpec, RestartType
from supervisor.tree.supervised import SupervisedActor
from supervisor.tree.supervisor import Supervisor

BuildSupervisor = Callable[[Lease, Callable[[str], None]], Supervisor]
"""Builds the nested supervisor from its lease and the `on_give_up` it must be given."""


class SupervisorActor(SupervisedActor):
    """Runs a nested `Supervisor` for as long as this actor lives."""

    def __init__(self, lease: Lease, build: BuildSupervisor) -> None:
        super().__init__(lease)
        self.supervisor = build(lease, self._gave_up)

    def on_start(self) -> None:
        self.supervisor.start()

    def on_stop(self) -> None:
        self.supervisor.stop()
        super().on_stop()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.supervisor.stop()
        super().on_failure(exception_type, exception_value, traceback)

    def _gave_up(self, name: str) -> None:
        self.lease.report_failure(f"{name} gave up")


def supervisor_child(
    role: str,
    build: BuildSupervisor,
    restart: RestartType = "permanent",
    shutdown_timeout_s: float = 5.0,
) -> ChildSpec:
    """A child spec whose child is a nested supervisor, built afresh for every generation.

    The parent's `ping_timeout_s` must cover the nested supervisor's start (its children's
    `on_start`), and `shutdown_timeout_s` its stop.
    """

    def start(lease: Lease) -> pykka.ActorRef[Any]:
        return SupervisorActor.start(lease, build)

    return ChildSpec(role, start, restart, shutdown_timeout_s)
