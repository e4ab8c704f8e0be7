"""Where a station's simulated hardware runs: the plant process of its state dir, or in-process.

    hardware = SimulatedHardware.open(settings)   # PlantError when the plant does not come up
    ... build_devices(..., simulation=hardware.simulation) ...
    hardware.close()                               # on a clean stop: a plant a station started goes

With `sim.plant: process` (the default) and at least one simulated connector, the plant
of the state dir is found or started (`supervisor.plant.launch`) and one link reaches it;
otherwise the simulator runs in this process (`sim.plant: embedded`, or no sim connector).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.base import DriverError
from drivers.sim.remote import PlantLink
from supervisor.config.settings import StationSettings
from supervisor.plant.launch import PlantError, PlantHandle, ensure_plant
from supervisor.station.drivers import Simulation
from supervisor.tree import SupervisionSettings

PLANT_CALL_MAX_S = 0.5
PLANT_CONNECT_TIMEOUT_S = 5.0


def plant_call_timeout_s(supervision: SupervisionSettings) -> float:
    """A call to the plant waits at most this: below the ping timeout, so it never looks hung."""
    return min(PLANT_CALL_MAX_S, supervision.ping_timeout_s / 2)


@dataclass(frozen=True)
class SimulatedHardware:
    simulation: Simulation
    plant: PlantHandle | None = None  # the plant process, when there is one
    link: PlantLink | None = None

    @classmethod
    def open(cls, settings: StationSettings) -> SimulatedHardware:
        sim = settings.sim
        key_dir = settings.state_dir / "meter-keys"
        simulated = any(c.board_device is None or c.meter_device is None for c in settings.connectors)
        if sim.plant != "process" or not simulated:
            return cls(Simulation(sim.time_scale, key_dir))
        plant = ensure_plant(
            settings.state_dir, sim.plant_endpoint, linger_s=sim.plant_linger_s, time_scale=sim.time_scale
        )
        link = PlantLink(plant.drivers_endpoint, plant_call_timeout_s(settings.supervision))
        try:
            link.wait_connected(PLANT_CONNECT_TIMEOUT_S)
        except DriverError as exc:
            link.close()
            raise PlantError(f"the plant {plant.endpoint} (pid {plant.pid}) does not answer: {exc}") from None
        return cls(Simulation(sim.time_scale, key_dir, link), plant, link)

    def describe(self) -> dict[str, Any] | None:
        """`status`'s `plant`: its endpoint and pid; None without a plant process."""
        return None if self.plant is None else self.plant.describe()

    def close(self, *, stop_plant: bool = True) -> None:
        """The link closed (the boards' keep-alive then switches off whatever is left on), and a
        plant that a station started stopped (not by a worker process: its root stops it)."""
        if self.link is not None:
            self.link.close()
        if self.plant is not None and stop_plant:
            self.plant.stop_if_ours()
