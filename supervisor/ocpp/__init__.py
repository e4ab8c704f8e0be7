"""The OCPP 1.6J bridge: the station as a charge point of its central system (spec/ocpp.md)."""

from supervisor.ocpp.bridge import OcppBridge
from supervisor.ocpp.port import Connectors, StationConnectors

__all__ = ["Connectors", "OcppBridge", "StationConnectors"]
