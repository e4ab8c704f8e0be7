"""Chaos runner: a station under random kills and hangs while cars charge and clients send commands.

    .venv/bin/python bench/chaos.py [--duration-s 600] [--kill-rate 5] [--hang-rate 0.1] [--hang-s 1.0]
        [--connectors 8] [--clients 4] [--time-scale 60] [--seed N] [--json FILE]

Starts `evse-supervisor run` (chaos allowed, supervision limits raised so that no connector
is given up) in a subprocess. A simulated car per connector cycles sessions (plug in,
authorize, charge a few seconds, unplug), command clients send random valid connector
commands, and a killer sends `chaos_kill` and `chaos_hang` to random actors at the given
rates; after each, a probe times the connector's recovery (from the kill to its next ok
reply once the restarted session actor was announced). A short warm-up of the same load
comes first. At the end every connector's event log and every publication seen are
checked, the station is measured (psutil) against the start, stopped with SIGTERM, and a
report is printed (and written as JSON with --json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zmq
from chaos_kill import Blow, Killer, Probe
from chaos_load import CommandClient, CountingClient, EventCollector, SessionDriver, Tally
from chaos_report import blow_figures, format_report, publication_violations, session_violations, targets
from chaos_station import Limits, Resources, StationProcess, config_text
from chaos_watch import Watcher


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration-s", type=float, default=600.0, help="length of the chaos (default 600)")
    parser.add_argument("--kill-rate", type=float, default=5.0, help="chaos_kill per second (default 5)")
    parser.add_argument("--hang-rate", type=float, default=0.1, help="chaos_hang per second (default 0.1)")
    parser.add_argument("--hang-s", type=float, default=1.0, help="how long a hung actor blocks (default 1)")
    parser.add_argument("--connectors", type=int, default=8, help="simulated connectors (default 8)")
    parser.add_argument("--clients", type=int, default=4, help="command clients (default 4)")
    parser.add_argument("--client-pause-s", type=float, default=0.0, help="pause between commands")
    parser.add_argument("--time-scale", type=float, default=60.0, help="simulated seconds per second")
    parser.add_argument("--warmup-s", type=float, default=10.0, help="the same load before measuring")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--json", type=Path, default=None, help="write the report as JSON too")
    parser.add_argument("--log", type=Path, default=None, help="the station's log (default: in /tmp)")
    return parser


class Phase:
    """One round of load and chaos with its own threads and clients."""

    def __init__(
        self, opts: argparse.Namespace, endpoint: str, watcher: Watcher, tag: str, seed: int
    ) -> None:
        self.cars, self.clients, self.chaos = Tally(), Tally(), Tally()
        n = opts.connectors

        def client(tally: Tally, name: str) -> CountingClient:
            return CountingClient(endpoint, tally, f"{tag}-{name}")

        self.drivers = [
            SessionDriver(client(self.cars, f"car{i}"), i, (2.0, 8.0), seed + i) for i in range(1, n + 1)
        ]
        self.commanders = [
            CommandClient(client(self.clients, f"client{i}"), n, seed + 100 + i, opts.client_pause_s)
            for i in range(1, opts.clients + 1)
        ]
        self.probes = [Probe(client(self.chaos, f"probe{i}"), i, watcher) for i in range(1, n + 1)]
        rates = (opts.kill_rate, opts.hang_rate)
        self.killer = Killer(client(self.chaos, "killer"), self.probes, watcher, rates, opts.hang_s, seed)

    def run(self, seconds: float, progress: bool) -> None:
        for thread in [*self.drivers, *self.commanders, *self.probes]:
            thread.start()
        time.sleep(1.0)  # the cars are plugged in
        self.killer.start()
        began = time.monotonic()
        while (left := seconds - (time.monotonic() - began)) > 0:
            time.sleep(min(left, 30.0))
            if progress:
                self._progress(time.monotonic() - began)
        self.killer.halt.set()
        self.killer.join(30)
        for probe in self.probes:
            probe.finish()
        for commander in self.commanders:
            commander.halt.set()
        for driver in self.drivers:
            driver.halt.set()
        for thread in [*self.commanders, *self.drivers]:
            thread.join(60)
        clients = [t.client for t in self.drivers] + [t.client for t in self.commanders]
        for client in [*clients, *(p.client for p in self.probes), self.killer.client]:
            client.close()

    def _progress(self, elapsed_s: float) -> None:
        sent = self.clients.sent + self.cars.sent + self.chaos.sent
        print(f"[{elapsed_s:6.0f} s] kills {self.killer.sent['kill']}, hangs {self.killer.sent['hang']}, "
              f"requests {sent}, unanswered {self.clients.outcomes['unanswered']}", flush=True)  # fmt: skip

    def blows(self) -> list[Blow]:
        return [blow for probe in self.probes for blow in probe.done]


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    seed = opts.seed if opts.seed is not None else random.randrange(1, 10**6)
    limits = Limits()
    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    config = workdir / "station.yaml"
    config.write_text(config_text(opts.connectors, opts.time_scale, limits))
    log_path = opts.log or Path(tempfile.gettempdir()) / f"chaos-station-{uuid.uuid4().hex[:8]}.log"
    station = StationProcess(config, workdir / "state", log_path)
    try:
        report = _run(opts, seed, limits, station)
    finally:
        if station.alive():
            station.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(format_report(report), flush=True)
    if opts.json is not None:
        opts.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if all(report["targets"].values()) else 1


def _run(opts: argparse.Namespace, seed: int, limits: Limits, station: StationProcess) -> dict[str, Any]:
    station.wait_ready()
    endpoint, run_id = station.command_endpoint, uuid.uuid4().hex[:8]
    admin_tally, pager_tally = Tally(), Tally()
    admin = CountingClient(endpoint, admin_tally, f"{run_id}-admin")
    watcher = Watcher(station.publish_endpoint, zmq.Context.instance())
    watcher.start()
    if not watcher.heartbeat.wait(10):
        raise RuntimeError("no heartbeat from the station")
    watcher.seed(admin.status())
    admin.close()
    pager = EventCollector(CountingClient(endpoint, pager_tally, f"{run_id}-pager"), opts.connectors)
    pager.start()
    print(
        f"station pid {station.proc.pid}, log {station.log_path}; warm-up {opts.warmup_s:.0f} s", flush=True
    )
    warmup = Phase(opts, endpoint, watcher, f"{run_id}-warmup", seed + 10_000)
    warmup.run(opts.warmup_s, progress=False)
    time.sleep(3.0)
    start = station.measure()
    print(f"start: {start}; chaos for {opts.duration_s:.0f} s", flush=True)
    phase = Phase(opts, endpoint, watcher, f"{run_id}-chaos", seed)
    phase.run(opts.duration_s, progress=True)
    end, settle_s = station.settle(start, 3.0, 20.0)
    pager.halt.set()
    pager.join(60)
    pager.collect()
    status = admin.status()
    epoch = admin.ping()["epoch"]
    admin.close()
    pager.client.close()
    watcher.stop()
    exit_code, exit_s = station.stop()
    tallies = {"clients": phase.clients, "cars": phase.cars, "chaos": phase.chaos, "pager": pager_tally}
    violations = _violations(watcher, pager, [*tallies.values(), warmup.cars, warmup.clients, warmup.chaos])
    if status["epoch"] != epoch or epoch not in watcher.epochs:
        violations.append(f"the station restarted: epoch {epoch}, seen {sorted(watcher.epochs)}")
    report = _figures(opts, seed, limits, phase, tallies, pager, watcher, status)
    report.update(violations=violations, exit_code=exit_code, exit_s=exit_s, settle_s=settle_s,
                  station_log=station.log_summary())  # fmt: skip
    report["resources"] = {"start": start.to_json(), "end": end.to_json()}
    report["rss_growth_pct"] = _growth_pct(start, end)
    report["targets"] = targets(report)
    return report


def _violations(watcher: Watcher, pager: EventCollector, tallies: list[Tally]) -> list[str]:
    found = list(pager.problems)
    for evse, events in pager.events.items():
        found.extend(session_violations(evse, events))
    found.extend(publication_violations(watcher, pager.events))
    for tally in tallies:
        found.extend(f"stray reply: {stray}" for stray in tally.strays)
        if tally.outcomes["unanswered"]:
            found.append(f"{tally.outcomes['unanswered']} requests unanswered after every retry")
        if tally.sent != sum(tally.outcomes.values()):
            found.append(f"{tally.sent} requests sent, {sum(tally.outcomes.values())} outcomes counted")
    return found


def _figures(
    opts: argparse.Namespace,
    seed: int,
    limits: Limits,
    phase: Phase,
    tallies: dict[str, Tally],
    pager: EventCollector,
    watcher: Watcher,
    status: dict[str, Any],
) -> dict[str, Any]:
    every = Tally()
    for tally in tallies.values():
        every.merge(tally)
    names = [str(e["value"]["event"]) for events in pager.events.values() for e in events]
    return {
        "duration_s": opts.duration_s, "kill_rate": opts.kill_rate, "hang_rate": opts.hang_rate,
        "hang_s": opts.hang_s, "connectors": opts.connectors, "clients": opts.clients,
        "time_scale": opts.time_scale, "seed": seed, "limits": dataclasses.asdict(limits),
        "kills_sent": phase.killer.sent["kill"], "hangs_sent": phase.killer.sent["hang"],
        "kills_refused": dict(phase.killer.refused), "killer_late_s": phase.killer.late_s,
        "restarts_status": sum(int(e["supervisor"]["restarts"]) for e in status["evses"]),
        "supervision_events": dict(watcher.supervision),
        "blows": blow_figures(phase.blows()),
        "requests": {**{name: t.to_json() for name, t in tallies.items()}, "all": every.to_json()},
        "sessions": {
            "plugged": sum(d.plugged for d in phase.drivers),
            "unplugged": sum(d.unplugged for d in phase.drivers),
            "started": names.count("SessionStarted"),
            "finished": names.count("SessionFinished"),
        },
        "publications": watcher.publications, "powermeter": watcher.powermeter_count,
    }  # fmt: skip


def _growth_pct(start: Resources, end: Resources) -> float:
    return (end.rss_bytes - start.rss_bytes) / start.rss_bytes * 100.0


if __name__ == "__main__":
    sys.exit(main())
