"""The running station: its connectors (actors, drivers, supervisor) and the bus they publish on."""

from supervisor.station.bus import Bus
from supervisor.station.station import Station

__all__ = ["Bus", "Station"]
