"""Station energy management: one grid connection shared by the connectors (the energy spec).

A pure allocation (`allocation`), the rule for cars that draw less (`draw`), the ledger
that keeps the per-phase invariant (`ledger`), the operator's limit kept in the journal
(`store`) and the supervised actor that runs and applies the allocation (`actor`, `manager`).
"""

from supervisor.energy.allocation import Allocation, EvseAllocation, EvseInput, StationInput, allocate
from supervisor.energy.inputs import EvseLink
from supervisor.energy.ledger import Ledger
from supervisor.energy.manager import EnergyManager
from supervisor.energy.settings import GridSettings
from supervisor.energy.store import JournalLimitStore, LimitStore

__all__ = [
    "Allocation",
    "EnergyManager",
    "EvseAllocation",
    "EvseInput",
    "EvseLink",
    "GridSettings",
    "JournalLimitStore",
    "Ledger",
    "LimitStore",
    "StationInput",
    "allocate",
]
