"""The process limits a station of many connectors meets at start: open files.

Each connector holds its journal open (two SQLite connections, each with its database,
WAL and shared-memory files); the API's ZeroMQ context holds a fixed handful of sockets
whatever the number of connectors, far below its 1,023. The soft open-files limit (often
1,024) is raised up to the hard one when the station needs more; past the hard limit the
station refuses to start and says what to raise.
"""

from __future__ import annotations

import resource

__all__ = ["LimitError", "ensure_open_files", "open_files_needed"]

FILES_PER_CONNECTOR = 8  # 2 journal connections x (database, WAL, shm), and spare
FILES_BASE = 256  # the station's own: sockets, the station journal, logs, psutil, clients


class LimitError(Exception):
    """The process cannot get what the configured station needs."""


def open_files_needed(connectors: int) -> int:
    return FILES_BASE + FILES_PER_CONNECTOR * connectors


def ensure_open_files(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE to at least `needed` (up to the hard limit); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise LimitError(
            f"this station needs about {needed} open files and the hard limit is {hard}: "
            "raise it (ulimit -Hn, or LimitNOFILE= in the systemd unit) or configure fewer connectors"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed
