"""`evse-supervisor plant`: the simulated hardware in a process of its own.

One plant per state dir (`state_dir/plant.lock`); its log is `state_dir/plant.log`, never
the terminal or pipe of whoever started it. Connectors come from the configuration file
given to it and from every station that attaches them. SIGTERM or SIGINT stop it, as do
`plant_stop` and `linger_s` with nobody talking to it.
"""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

import zmq

from actors.settings import ConnectorSettings
from drivers.base import BoardCapabilities
from drivers.clock import SystemClock
from drivers.sim import plant_wire as wire
from supervisor.ops import configure_logging
from supervisor.ops.statelock import StartRefused, StateLock
from supervisor.plant.files import LOCK_NAME, LOG_NAME, REGISTERS_NAME
from supervisor.plant.plant import Plant
from supervisor.plant.registers import Registers, RegistersError
from supervisor.plant.server import PlantServer

log = logging.getLogger("evse_supervisor.plant")


@dataclass(frozen=True)
class PlantOptions:
    state_dir: pathlib.Path
    public_endpoint: str | None = None  # sim.plant_endpoint; None: ipc://<state_dir>/plant.sock
    linger_s: float = 30.0
    time_scale: float = 1.0
    started_by_station: bool = False
    connectors: Sequence[ConnectorSettings] = ()  # the sim connectors of a configuration file


def run_plant(options: PlantOptions) -> int:
    """Serve the plant until it is stopped; 1 with one line on stderr when it cannot start."""
    try:
        options.state_dir.mkdir(parents=True, exist_ok=True)
        lock = StateLock.acquire(options.state_dir, LOCK_NAME, "plant")
    except (OSError, StartRefused) as exc:
        print(f"evse-supervisor plant: {exc}", file=sys.stderr)
        return 1
    logs = configure_logging("INFO", "text", options.state_dir / LOG_NAME)
    try:
        return _serve(options)
    finally:
        lock.release()
        logs.close()


def _serve(options: PlantOptions) -> int:
    try:
        registers = Registers.open(options.state_dir / REGISTERS_NAME)
    except RegistersError as exc:
        log.error("%s", exc)
        print(f"evse-supervisor plant: {exc}", file=sys.stderr)
        return 1
    clock = SystemClock()
    server: PlantServer | None = None

    def changed(evse_id: str) -> None:
        if server is not None:
            server.changed(evse_id)

    plant = Plant(options.state_dir, clock, registers, changed)
    try:
        server = PlantServer(
            plant,
            clock,
            drivers_endpoint=wire.drivers_endpoint(options.state_dir),
            public_endpoint=wire.public_endpoint(options.state_dir, options.public_endpoint),
            linger_s=options.linger_s,
            started_by_station=options.started_by_station,
        )
    except zmq.ZMQError as exc:
        log.error("cannot bind the plant's endpoints: %s", exc)
        print(f"evse-supervisor plant: cannot bind its endpoints: {exc}", file=sys.stderr)
        registers.close()
        return 1
    _attach_configured(plant, options)
    _stop_on_signals(server)
    log.info(
        "plant %d serving on %s (drivers on %s)", os.getpid(), server.public_endpoint, server.drivers_endpoint
    )
    try:
        log.info("plant stopped: %s", server.serve())
    finally:
        registers.close()
    return 0


def _attach_configured(plant: Plant, options: PlantOptions) -> None:
    """The connectors of the configuration file, there before any station attaches them."""
    for connector in options.connectors:
        caps = BoardCapabilities(
            connector.max_current_a, connector.phases, connector.phase_switching, connector.lock
        )
        plant.attach(connector.evse_id, connector.index, caps, f"SIM-{connector.evse_id}", options.time_scale)


def _stop_on_signals(server: PlantServer) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
