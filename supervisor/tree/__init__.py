"""A supervision tree for pykka actors in the manner of Erlang/OTP; depends on pykka alone.

Child specs and supervision events (`specs`), the restart limits (`settings`, `backoff`),
the lease that fences a dead generation (`lease`), the actor side of the protocol
(`supervised`: handshake, busy marks, safe stop, death reports; `calls`: a tell with a
completion callback), the supervisor itself
(`supervisor`) made of the pure failure plan (`plan`), the child table (`children`), the
health scan (`health`), the stable addresses (`addressing`), an operator's decisions (`manual`)
and the threads all supervisors share (`runtime`), and a supervisor nested as the child of
another (`nesting`).
"""

from supervisor.tree.backoff import Backoff, IntensityWindow
from supervisor.tree.calls import Call
from supervisor.tree.errors import Unavailable
from supervisor.tree.later import Abandoned, Later, Laters, answer
from supervisor.tree.lease import FailureKind, Fenced, Lease
from supervisor.tree.nesting import SupervisorActor
from supervisor.tree.runtime import Runtime
from supervisor.tree.settings import SupervisionSettings
from supervisor.tree.specs import ChildSpec, ChildState, EventKind, RestartType, Strategy, SupervisionEvent
from supervisor.tree.supervised import Ping, SupervisedActor
from supervisor.tree.supervisor import Clock, Supervisor

__all__ = [
    "Abandoned",
    "Backoff",
    "Call",
    "ChildSpec",
    "ChildState",
    "Clock",
    "EventKind",
    "FailureKind",
    "Fenced",
    "IntensityWindow",
    "Later",
    "Laters",
    "Lease",
    "Ping",
    "RestartType",
    "Runtime",
    "Strategy",
    "SupervisedActor",
    "SupervisionEvent",
    "SupervisionSettings",
    "Supervisor",
    "SupervisorActor",
    "Unavailable",
    "answer",
]
