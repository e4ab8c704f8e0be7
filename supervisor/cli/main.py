"""`evse-supervisor`: run the station, check a configuration file, probe its devices, or reload it."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import pathlib
import sys
from collections.abc import Sequence

from supervisor.api.station_commands import package_version
from supervisor.cli.probe import probe_station
from supervisor.cli.reload import reload_running
from supervisor.cli.run import run
from supervisor.config import ConfigError, apply_overrides, describe, load_config
from supervisor.config.settings import StationSettings
from supervisor.ops import LOG_FORMATS, configure_logging, parse_level
from supervisor.plant.process import PlantOptions, run_plant

log = logging.getLogger("evse_supervisor")


def _level(text: str) -> str:
    """argparse type of --log-level: a bad level is a usage error."""
    try:
        parse_level(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.upper()


def _add_plant(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plant = commands.add_parser("plant", help="run the simulated boards, meters and cars of a state dir")
    plant.add_argument(
        "--config", type=pathlib.Path, help="YAML file: its sim connectors, state_dir and sim keys"
    )
    plant.add_argument(
        "--state-dir", type=pathlib.Path, help="the state dir (default: the file's station.state_dir)"
    )
    plant.add_argument(
        "--endpoint", help="the public endpoint (default: sim.plant_endpoint, else the state dir's)"
    )
    plant.add_argument(
        "--linger-s", type=float, help="exit after this long with nobody talking (sim.plant_linger_s)"
    )
    plant.add_argument("--time-scale", type=float, help=argparse.SUPPRESS)
    plant.add_argument("--started-by-station", action="store_true", help=argparse.SUPPRESS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evse-supervisor", description=__doc__)
    parser.add_argument("--version", action="version", version=f"evse-supervisor {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run_command = commands.add_parser("run", help="run the station")
    run_command.add_argument(
        "--config", type=pathlib.Path, help="YAML file (default: the embedded station.yaml)"
    )
    run_command.add_argument("--command-endpoint", help="ZeroMQ ROUTER endpoint for commands")
    run_command.add_argument("--publish-endpoint", help="ZeroMQ XPUB endpoint for publications")
    run_command.add_argument("--state-dir", type=pathlib.Path, help="directory for the meter keys and state")
    run_command.add_argument("--isolation", choices=("thread", "process"), help="connector isolation")
    run_command.add_argument("--chaos", action="store_true", default=None, help="allow chaos_* commands")
    run_command.add_argument(
        "--log-level", type=_level, help="DEBUG, INFO, WARNING, ERROR (station.log_level)"
    )
    run_command.add_argument("--log-format", choices=LOG_FORMATS, default="text", help="one line per record")
    run_command.add_argument("--log-file", type=pathlib.Path, help="append here, reopened on SIGUSR2")
    check = commands.add_parser("check-config", help="validate a configuration file and print it")
    check.add_argument("--config", type=pathlib.Path, help="YAML file (default: the embedded station.yaml)")
    probe = commands.add_parser("probe", help="read every value of each configured device once and print it")
    probe.add_argument("--config", type=pathlib.Path, help="YAML file (default: the embedded station.yaml)")
    probe.add_argument("--evse", type=int, help="only this connector (1-based)")
    _add_plant(commands)
    reload = commands.add_parser("reload", help="make the running station re-read its configuration (SIGHUP)")
    where = reload.add_mutually_exclusive_group()
    where.add_argument("--config", type=pathlib.Path, help="the station's YAML file: its state_dir finds it")
    where.add_argument("--state-dir", type=pathlib.Path, help="the running station's state dir")
    return parser


def _load(options: argparse.Namespace) -> StationSettings:
    settings = load_config(options.config)
    if options.command != "run":
        return settings
    settings = apply_overrides(
        settings,
        command_endpoint=options.command_endpoint,
        publish_endpoint=options.publish_endpoint,
        state_dir=options.state_dir,
        isolation=options.isolation,
        chaos=options.chaos,
    )
    if options.log_level is not None:
        settings = dataclasses.replace(settings, log_level=options.log_level)
    return settings


def _plant(options: argparse.Namespace) -> int:
    """The plant of a configuration file's sim connectors; a station attaches its own when it connects."""
    try:
        settings = load_config(options.config)
    except ConfigError as exc:
        print(f"evse-supervisor plant: {exc}", file=sys.stderr)
        return 1
    sim = settings.sim
    simulated = [c for c in settings.connectors if c.board_device is None or c.meter_device is None]
    return run_plant(
        PlantOptions(
            state_dir=options.state_dir or settings.state_dir,
            public_endpoint=options.endpoint or sim.plant_endpoint,
            linger_s=sim.plant_linger_s if options.linger_s is None else options.linger_s,
            time_scale=sim.time_scale if options.time_scale is None else options.time_scale,
            started_by_station=options.started_by_station,
            connectors=() if options.started_by_station else simulated,  # a station attaches its own
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    if options.command == "reload":
        return reload_running(options.config, options.state_dir)
    if options.command == "plant":
        return _plant(options)
    logs = configure_logging(
        getattr(options, "log_level", None) or "INFO", getattr(options, "log_format", "text")
    )
    try:
        settings = _load(options)
    except ConfigError as exc:
        print(f"evse-supervisor: {exc}", file=sys.stderr)
        return 1
    if options.command == "check-config":
        print(describe(settings))
        return 0
    if options.command == "probe":
        return probe_station(settings, options.evse)
    if options.log_file is not None:
        try:
            logs.close()
            logs = configure_logging(settings.log_level, options.log_format, options.log_file)
        except OSError as exc:
            print(
                f"evse-supervisor: cannot open the log file {options.log_file}: {exc.strerror}",
                file=sys.stderr,
            )
            return 1
    logs.set_level(settings.log_level)
    try:
        return run(settings, functools.partial(_load, options), logs)
    finally:
        logs.close()


if __name__ == "__main__":
    sys.exit(main())
