"""Which connectors each worker runs, and where its sockets are.

Sockets live in a short directory of their own under the temporary directory: a Unix
socket's path may hold only about 100 bytes, and a state dir can be deep.
"""

from __future__ import annotations

import dataclasses
import pathlib
from dataclasses import dataclass

from actors.settings import ConnectorSettings
from supervisor.config.settings import StationSettings


@dataclass(frozen=True)
class WorkerPlan:
    id: int  # from 1
    connectors: tuple[ConnectorSettings, ...]
    command_endpoint: str  # the worker's API (ROUTER), relayed to by the root
    publish_endpoint: str  # the worker's publications (XPUB), renumbered by the root

    @property
    def indexes(self) -> tuple[int, ...]:
        return tuple(c.index for c in self.connectors)

    def settings(self, station: StationSettings) -> StationSettings:
        """The station settings a worker runs: its share of the connectors, its own endpoints."""
        api = dataclasses.replace(
            station.api,
            command_endpoint=self.command_endpoint,
            publish_endpoint=self.publish_endpoint,
            metrics_endpoint=None,
        )
        return dataclasses.replace(station, isolation="thread", connectors=self.connectors, api=api)


def plan_workers(settings: StationSettings, socket_dir: pathlib.Path) -> list[WorkerPlan]:
    """`connectors_per_worker` connectors to a worker, in index order."""
    size = settings.workers.connectors_per_worker
    connectors = settings.connectors
    plans = []
    for number, start in enumerate(range(0, len(connectors), size), start=1):
        plans.append(
            WorkerPlan(
                number,
                tuple(connectors[start : start + size]),
                f"ipc://{socket_dir}/w{number}.cmd",
                f"ipc://{socket_dir}/w{number}.pub",
            )
        )
    return plans


def control_endpoint(socket_dir: pathlib.Path) -> str:
    """The root's control socket: workers' heartbeats and `ready` come in there."""
    return f"ipc://{socket_dir}/control"


def logs_endpoint(socket_dir: pathlib.Path) -> str:
    """The root's log socket: workers' log records come in there."""
    return f"ipc://{socket_dir}/logs"
