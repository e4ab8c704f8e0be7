"""Which connectors each worker runs, and where its sockets are.

Sockets live in a short directory of their own under the temporary directory: a Unix
socket's path may hold only about 100 bytes, and a state dir can be deep. Its name starts
with one derived from the state dir (`evse-w<hash>-`), the rest new at each start (a worker
left over from a killed root never reaches the next root's sockets); the next start on the
state dir (holding its lock) removes what a killed root left behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import tempfile
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


def socket_dir(state_dir: pathlib.Path) -> pathlib.Path:
    """A new socket directory for a root on `state_dir`, the ones its killed predecessors left removed."""
    prefix = _socket_prefix(state_dir)
    for stale in stale_socket_dirs(state_dir):
        shutil.rmtree(stale, ignore_errors=True)
    return pathlib.Path(tempfile.mkdtemp(prefix=prefix))


def stale_socket_dirs(state_dir: pathlib.Path) -> list[pathlib.Path]:
    """The socket directories of roots on `state_dir` (this user's, under the temporary directory)."""
    found = pathlib.Path(tempfile.gettempdir()).glob(f"{_socket_prefix(state_dir)}*")
    return [path for path in found if _ours(path)]


def _socket_prefix(state_dir: pathlib.Path) -> str:
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]
    return f"evse-w{digest}-"


def _ours(path: pathlib.Path) -> bool:
    try:
        status = path.lstat()
    except OSError:
        return False
    return path.is_dir() and not path.is_symlink() and status.st_uid == os.getuid()
