"""`evse-supervisor`: run the station, check a configuration file, or probe its devices."""

from __future__ import annotations

import argparse
import logging
import pathlib
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

import zmq

from supervisor.api.server import ApiServer
from supervisor.api.station_commands import package_version
from supervisor.cli.probe import probe_station
from supervisor.config import ConfigError, apply_overrides, describe, load_config
from supervisor.config.settings import StationSettings
from supervisor.journal import EXIT_CORRUPT, JournalError
from supervisor.station import Station, memory
from supervisor.station.endpoints import write_endpoints

log = logging.getLogger("evse_supervisor")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evse-supervisor", description=__doc__)
    parser.add_argument("--version", action="version", version=f"evse-supervisor {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the station")
    run.add_argument("--config", type=pathlib.Path, help="YAML file (default: the embedded station.yaml)")
    run.add_argument("--command-endpoint", help="ZeroMQ ROUTER endpoint for commands")
    run.add_argument("--publish-endpoint", help="ZeroMQ XPUB endpoint for publications")
    run.add_argument("--state-dir", type=pathlib.Path, help="directory for the meter keys and state")
    run.add_argument("--isolation", choices=("thread", "process"), help="connector isolation")
    run.add_argument("--chaos", action="store_true", default=None, help="allow chaos_* commands")
    run.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    check = commands.add_parser("check-config", help="validate a configuration file and print it")
    check.add_argument("--config", type=pathlib.Path, help="YAML file (default: the embedded station.yaml)")
    probe = commands.add_parser("probe", help="read every value of each configured device once and print it")
    probe.add_argument("--config", type=pathlib.Path, help="YAML file (default: the embedded station.yaml)")
    probe.add_argument("--evse", type=int, help="only this connector (1-based)")
    return parser


def _load(options: argparse.Namespace) -> StationSettings:
    settings = load_config(options.config)
    if options.command == "run":
        settings = apply_overrides(
            settings,
            command_endpoint=options.command_endpoint,
            publish_endpoint=options.publish_endpoint,
            state_dir=options.state_dir,
            isolation=options.isolation,
            chaos=options.chaos,
        )
    return settings


def check_config(settings: StationSettings) -> int:
    print(describe(settings))
    return 0


def run(settings: StationSettings) -> int:
    """Serve until SIGINT or SIGTERM; then every connector's power off first, and exit 0."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)
    memory.return_large_blocks()
    try:
        station = Station.build(settings)
    except JournalError as exc:
        print(f"evse-supervisor: {exc}", file=sys.stderr)
        return EXIT_CORRUPT
    server = ApiServer(settings.api, station)
    try:
        server.start()  # bound first: connector commands wait through each connector's recovery
    except zmq.ZMQError as exc:
        station.stop()
        print(f"evse-supervisor: cannot bind the API endpoints: {exc}", file=sys.stderr)
        return 1
    write_endpoints(settings.state_dir, server.command_endpoint, server.publish_endpoint)
    station.start()
    log.info(
        "station %s serving %d connectors: commands on %s, publications on %s",
        settings.name,
        len(settings.connectors),
        server.command_endpoint,
        server.publish_endpoint,
    )
    stop.wait()
    station.power_off()
    server.stop(timeout_s=1.0)
    station.stop(timeout_s=2.5)
    log.info("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(options, "log_level", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pykka").setLevel(logging.WARNING)
    logging.getLogger("ocpp").setLevel(logging.WARNING)  # the library logs every message at INFO
    try:
        settings = _load(options)
    except ConfigError as exc:
        print(f"evse-supervisor: {exc}", file=sys.stderr)
        return 1
    if options.command == "check-config":
        return check_config(settings)
    if options.command == "probe":
        return probe_station(settings, options.evse)
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
