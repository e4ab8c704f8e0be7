"""What the forkserver does once, before it forks any worker: the station's modules imported,
the caches a start fills warmed, and everything frozen into the collector's permanent generation.

Frozen, the preloaded objects are never walked by a worker's collections: a full collection
in a fresh worker walked all of them (its start and its first requests waited for it) and,
writing to each object's header, copied the forkserver's pages into the worker.
"""

from __future__ import annotations

import gc

from supervisor.api.station_commands import package_version
from supervisor.workers import child

__all__ = ["child"]

package_version()
gc.collect()
gc.freeze()
