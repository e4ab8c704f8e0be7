"""The plant's hardware: every attached connector's simulated board, meter and car, and the
operations the sim drivers and the `sim_*` commands run on them. No sockets here (`server`).

A connector is created the first time a station (or the plant's config) attaches it, and
lives as long as the plant: a station that comes back after a crash finds its car, its
plug counter and its meter where it left them. Its meter counts on from the register the
plant persisted (`Registers`), and every reply that carries energy is held until the
register is on disk. A board no station talked to for `KEEPALIVE_S` switches its power
off, as a real board's keep-alive does.
"""

from __future__ import annotations

import logging
import pathlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.base import BoardCapabilities, DriverError, ReadingContext
from drivers.clock import Clock
from drivers.sim import SimPlant
from drivers.sim import plant_wire as wire
from supervisor.plant.registers import Registers

log = logging.getLogger(__name__)

CONTROLS = ("plug_in", "unplug", "ev_pause", "ev_resume", "fault", "clear_fault", "state")
READING_CONTEXTS: tuple[ReadingContext, ...] = ("B", "E", "T")


class Detached(Exception):
    """No such connector in the plant."""


@dataclass
class PlantConnector:
    evse_id: str
    index: int
    sim: SimPlant
    last_talk_s: float
    watchers: set[bytes] = field(default_factory=set)  # the links to push changes to


class Plant:
    def __init__(
        self, state_dir: pathlib.Path, clock: Clock, registers: Registers, on_change: Callable[[str], None]
    ) -> None:
        self._state_dir = state_dir
        self._clock = clock
        self._registers = registers
        self._on_change = on_change
        self.connectors: dict[str, PlantConnector] = {}

    # --- connectors --------------------------------------------------------------------------

    def attach(
        self, evse_id: str, index: int, caps: BoardCapabilities, meter_id: str, time_scale: float
    ) -> PlantConnector:
        """The connector's hardware, created on its first attach (later ones keep it as it is).
        The index is the attaching station's: another connector that had it keeps its evse_id only."""
        for other in self.connectors.values():
            if other.index == index and other.evse_id != evse_id:
                other.index = 0
        connector = self.connectors.get(evse_id)
        if connector is not None:
            connector.index = index
            return connector
        energy_wh = self._registers.energy_wh(meter_id)
        key_path = self._state_dir / "meter-keys" / f"evse-{index}.pem"
        sim = SimPlant(
            caps,
            self._clock,
            time_scale=time_scale,
            meter_id=meter_id,
            key_path=key_path,
            energy_wh=energy_wh,
        )
        sim.hardware.watch(lambda: self._on_change(evse_id))
        connector = PlantConnector(evse_id, index, sim, self._clock.monotonic())
        self.connectors[evse_id] = connector
        log.info("evse %d (%s): attached, meter %s at %.1f Wh", index, evse_id, meter_id, energy_wh)
        return connector

    def find(self, evse: int | str) -> PlantConnector:
        """By evse_id, or by the 1-based index a station gave it; Detached when there is none."""
        for connector in self.connectors.values():
            if evse in (connector.evse_id, connector.index):
                return connector
        raise Detached(f"the plant has no connector {evse!r}")

    def keepalive(self, evse_ids: list[str]) -> None:
        now_s = self._clock.monotonic()
        for evse_id in evse_ids:
            connector = self.connectors.get(evse_id)
            if connector is not None:
                connector.last_talk_s = now_s

    def expire_keepalives(self) -> None:
        """Power off every board no station talked to for `KEEPALIVE_S`."""
        now_s = self._clock.monotonic()
        for connector in self.connectors.values():
            if now_s - connector.last_talk_s >= wire.KEEPALIVE_S and connector.sim.hardware.keepalive_lost():
                log.warning("evse %d (%s): keep-alive lost, power off", connector.index, connector.evse_id)

    # --- operations --------------------------------------------------------------------------

    def driver_op(self, connector: PlantConnector, op: str, args: dict[str, Any]) -> Any:
        """One board or meter operation; DriverError while the device is away, ValueError for
        an operation or value the drivers never send. The board's keep-alive hears the board's
        and the meter's operations, not the car's controls."""
        if op == "control":
            return self.control(connector, str(args["name"]), dict(args.get("args") or {}))
        connector.last_talk_s = self._clock.monotonic()
        board, meter = connector.sim.board, connector.sim.meter
        if op == "capabilities":
            return wire.capabilities_to_wire(board.capabilities())
        if op == "status":  # with the telemetry, which a driver reads right after the status
            return self._status(connector)
        if op == "telemetry":
            return wire.telemetry_to_wire(board.telemetry())
        if op == "set_pilot":
            board.set_pilot(wire.pilot_from_wire(args["signal"]))
            return None
        if op == "allow_power":
            board.allow_power(bool(args["allowed"]))
            return None
        if op == "set_lock":
            return board.set_lock(bool(args["locked"]))
        if op == "switch_phases":
            board.switch_phases(bool(args["three_phases"]))
            return None
        if op == "reading":
            return self._reading(connector)
        if op == "signed_reading":
            return self._signed_reading(connector, args)
        if op == "public_key_pem":
            return meter.public_key_pem()
        raise ValueError(f"unknown plant operation {op!r}")

    def report(self, connector: PlantConnector, kind: str) -> Any:
        """What a subscribed link gets by itself: the board's status with its telemetry, or the
        meter's reading; DriverError while the device is away. No keep-alive: the plant talks."""
        return self._status(connector) if kind == "board" else self._reading(connector)

    def _status(self, connector: PlantConnector) -> dict[str, Any]:
        """The board's status, its telemetry, and when (the plant's monotonic ns, to order them)."""
        board = connector.sim.board
        value = wire.status_to_wire(board.status())
        value["telemetry"] = wire.telemetry_to_wire(board.telemetry())
        value["at_ns"] = time.monotonic_ns()
        return value

    def _reading(self, connector: PlantConnector) -> dict[str, Any]:
        reading = connector.sim.meter.reading()
        self._registers.note(meter_id(connector), reading.energy_import_wh)
        return wire.reading_to_wire(reading)

    def _signed_reading(self, connector: PlantConnector, args: dict[str, Any]) -> str:
        context = args.get("context")
        if context not in READING_CONTEXTS:
            raise ValueError(f"signed_reading context must be one of {', '.join(READING_CONTEXTS)}")
        token = args.get("token")
        signed = connector.sim.meter.signed_reading(None if token is None else str(token), context)
        self._registers.note(meter_id(connector), connector.sim.hardware.snapshot().energy_wh)
        return signed

    def control(self, connector: PlantConnector, name: str, args: dict[str, Any]) -> Any:
        """One of the car's controls (`plug_in`, `fault`, ..., `state`); ValueError for impossible values."""
        if name not in CONTROLS:
            raise ValueError(f"unknown control {name!r}: one of {', '.join(CONTROLS)}")
        try:
            result = getattr(connector.sim.controls, name)(**args)
        except TypeError as exc:  # an argument the control does not take
            raise ValueError(f"{name}: {exc}") from None
        if name == "state":
            self._registers.note(meter_id(connector), float(result["energy_wh"]))
        return result

    def commit(self) -> None:
        """The registers behind every value about to be reported, on disk."""
        self._registers.commit()


def meter_id(connector: PlantConnector) -> str:
    return connector.sim.meter.meter_id


__all__ = ["CONTROLS", "Detached", "DriverError", "Plant", "PlantConnector"]
