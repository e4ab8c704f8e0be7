"""`isolation: process`: the root's worker processes, each running a share of the connectors.

The root keeps the API's front (ROUTER and XPUB), numbers the publications and owns the
snapshot; each worker runs the same `Station` code on its share, behind its own API on
`ipc://` sockets, and recovers its connectors from their journals (durability.md).
"""

from supervisor.workers.plan import WorkerPlan, plan_workers
from supervisor.workers.pool import WorkerPool
from supervisor.workers.station import ProcessStation

__all__ = ["ProcessStation", "WorkerPlan", "WorkerPool", "plan_workers"]
