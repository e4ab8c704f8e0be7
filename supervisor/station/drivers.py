"""The choice of driver: a connector's board and meter, as its settings name them.

The simulator (`driver: sim`: in the plant process through `Simulation.link`, or in this
process) or a Modbus device (`driver: modbus`). Devices behind one
endpoint share one link (one request at a time on an RS-485 bus). Every driver call goes
through a `Watch`, so that a device away for less than `device_loss_s` never costs the
connector, whichever driver it is.
"""

from __future__ import annotations

import logging
import pathlib
import threading
import weakref
from dataclasses import dataclass

from actors.settings import ConnectorSettings
from drivers.base import Board, BoardCapabilities, DriverError, Meter
from drivers.clock import Clock
from drivers.modbus import ModbusBoard, ModbusDevice, ModbusLink, ModbusMeter, board_capabilities
from drivers.sim import SimControls, SimPlant
from drivers.sim.remote import PlantLink, RemoteBoard, RemoteControls, RemoteMeter
from drivers.watch import Watch, WatchedBoard, WatchedMeter

log = logging.getLogger(__name__)

_links: weakref.WeakValueDictionary[str, ModbusLink] = weakref.WeakValueDictionary()
_links_lock = threading.Lock()


@dataclass(frozen=True)
class Devices:
    """A connector's drivers, and the controls that play the simulated car (none on real hardware)."""

    board: Board
    meter: Meter
    sim_controls: SimControls | RemoteControls | None
    links: tuple[ModbusLink, ...] = ()

    @property
    def controls(self) -> SimControls | RemoteControls:
        if self.sim_controls is None:
            raise ValueError("the sim_* commands need the simulated board; this connector has real hardware")
        return self.sim_controls

    def close(self) -> None:
        """Close the Modbus connections (a later request would open them again)."""
        for link in self.links:
            link.close()


@dataclass(frozen=True)
class Simulation:
    """Where the simulated hardware runs: in the plant process (`link`), or in this one."""

    time_scale: float = 1.0
    key_dir: pathlib.Path | None = None  # the simulated meters' keys (in this process); None: new ones
    link: PlantLink | None = None


def build_devices(
    settings: ConnectorSettings, clock: Clock, *, device_loss_s: float, simulation: Simulation
) -> Devices:
    caps = capabilities_of(settings)
    board: Board | None = None
    meter: Meter | None = None
    controls: SimControls | RemoteControls | None = None
    links = [link_for(d) for d in (settings.board_device, settings.meter_device) if d is not None]
    if settings.board_device is None or settings.meter_device is None:
        board, meter, controls = _simulated(settings, caps, clock, simulation)
    if settings.board_device is not None:
        board = ModbusBoard(settings.board_device, link_for(settings.board_device), caps, clock)
        controls = None
    if settings.meter_device is not None:
        meter = ModbusMeter(settings.meter_device, link_for(settings.meter_device), clock)
    assert board is not None and meter is not None
    name = f"evse {settings.index}"
    return Devices(
        WatchedBoard(board, Watch(f"{name} board", clock, device_loss_s)),
        WatchedMeter(meter, Watch(f"{name} meter", clock, device_loss_s)),
        controls,
        tuple(links),
    )


def _simulated(
    settings: ConnectorSettings, caps: BoardCapabilities, clock: Clock, simulation: Simulation
) -> tuple[Board, Meter, SimControls | RemoteControls]:
    meter_id = f"SIM-{settings.evse_id}"
    link = simulation.link
    if link is None:
        key_dir = simulation.key_dir
        key_path = None if key_dir is None else key_dir / f"evse-{settings.index}.pem"
        plant = SimPlant(caps, clock, time_scale=simulation.time_scale, meter_id=meter_id, key_path=key_path)
        return plant.board, plant.meter, plant.controls
    evse_id = settings.evse_id
    try:
        link.attach(
            evse_id,
            index=settings.index,
            capabilities=caps,
            meter_id=meter_id,
            time_scale=simulation.time_scale,
        )
    except DriverError as exc:  # attached again at its first call
        log.warning("evse %d: the plant did not take the connector yet: %s", settings.index, exc)
    return RemoteBoard(link, evse_id), RemoteMeter(link, evse_id), RemoteControls(link, evse_id)


def capabilities_of(settings: ConnectorSettings) -> BoardCapabilities:
    """What the connector's board can do, as the config check found it."""
    if settings.board_device is not None:
        return board_capabilities(settings.board_device, settings.max_current_a, settings.phases)
    return BoardCapabilities(settings.max_current_a, settings.phases, settings.phase_switching, settings.lock)


def link_for(device: ModbusDevice) -> ModbusLink:
    """The one link to the device's endpoint in this process (the first device's timeout_s bounds it)."""
    key = str(device.endpoint)
    with _links_lock:
        link = _links.get(key)
        if link is None:
            link = ModbusLink(device.endpoint, device.timeout_s)
            _links[key] = link
        return link
