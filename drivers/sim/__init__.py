"""The simulated station hardware: board, meter and car behind the driver contracts."""

from drivers.sim.board import SimBoard
from drivers.sim.hardware import FAULT_KINDS
from drivers.sim.meter import SimMeter
from drivers.sim.plant import SimControls, SimPlant

__all__ = ["FAULT_KINDS", "SimBoard", "SimControls", "SimMeter", "SimPlant"]
