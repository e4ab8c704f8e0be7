"""Chaos runner: a station under random kills and hangs while cars charge and clients send commands
(or, with --station-kills N, N SIGKILLs of the whole station: chaos_station_kills.py).

    .venv/bin/python bench/chaos.py [--duration-s 600] [--kill-rate 5] [--hang-rate 0.1] [--hang-s 1.0]
        [--connectors 8] [--clients 4] [--time-scale 60] [--seed N] [--json FILE]
        [--isolation thread|process] [--worker-kill-rate R] [--connectors-per-worker N]

Starts `evse-supervisor run` (chaos allowed, supervision limits raised so that no connector
is given up) in a subprocess. A simulated car per connector cycles sessions (plug in,
authorize, charge a few seconds, unplug), command clients send random valid connector
commands, and a killer sends `chaos_kill` and `chaos_hang` to random actors at the given
rates; after each, a probe times the connector's recovery (from the kill to its next ok
reply once the restarted session actor was announced). With `--isolation process` the
killer also sends `chaos_kill_worker` (SIGKILL of a random connector's worker) at
`--worker-kill-rate`, and the probe asks at once, timing the kill to its next ok reply
(the root holds the request until the new worker serves). A short warm-up of the same load
comes first. At the end every connector's event log and every publication seen are
checked (and no reservation started twice: a double execution), the station's processes
(the root, and with process isolation the forkserver and its workers; not the plant) are
measured (psutil) against the start, stopped with SIGTERM, and a
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
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import chaos_station_kills
import zmq
from chaos_kill import Blow, Killer, Probe
from chaos_load import CommandClient, CountingClient, EventCollector, SessionDriver, Tally
from chaos_report import (
    all_violations,
    blow_figures,
    double_executions,
    format_report,
    lost_at_crashes,
    lost_sessions,
    targets,
)
from chaos_station import Limits, StationProcess, config_text
from chaos_watch import Watcher

from actors.connector_state import EVENT_LOG_SIZE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration-s", type=float, default=600.0, help="length of the chaos (default 600)")
    parser.add_argument("--kill-rate", type=float, default=5.0, help="chaos_kill per second (default 5)")
    parser.add_argument("--hang-rate", type=float, default=0.1, help="chaos_hang per second (default 0.1)")
    parser.add_argument("--hang-s", type=float, default=1.0, help="how long a hung actor blocks (default 1)")
    parser.add_argument(
        "--isolation",
        choices=("thread", "process"),
        default="thread",
        help="station.isolation (default thread)",
    )
    parser.add_argument(
        "--worker-kill-rate", type=float, default=0.0, help="chaos_kill_worker per second (process isolation)"
    )
    parser.add_argument(
        "--connectors-per-worker", type=int, default=1, help="station.connectors_per_worker (default 1)"
    )
    parser.add_argument("--connectors", type=int, default=8, help="simulated connectors (default 8)")
    parser.add_argument("--clients", type=int, default=4, help="command clients (default 4)")
    parser.add_argument("--client-pause-s", type=float, default=0.0, help="pause between commands")
    parser.add_argument("--time-scale", type=float, default=60.0, help="simulated seconds per second")
    parser.add_argument("--warmup-s", type=float, default=65.0, help="least warm-up (same load and chaos)")
    parser.add_argument(
        "--warmup-max-s",
        type=float,
        default=0.0,
        help="go on warming up until the event logs are full, this long at most",
    )
    parser.add_argument(
        "--station-kills",
        type=int,
        default=0,
        help="instead: SIGKILL the whole station this many times during sessions (chaos_station_kills.py)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--json", type=Path, default=None, help="write the report as JSON too")
    parser.add_argument("--log", type=Path, default=None, help="the station's log (default: in /tmp)")
    parser.add_argument("--log-level", default="WARNING", help="the station's log level (default WARNING)")
    return parser


class Phase:
    """One round of load and chaos with its own threads and clients."""

    def __init__(
        self, opts: argparse.Namespace, station: StationProcess, watcher: Watcher, tag: str, seed: int
    ) -> None:
        self.station = station
        self.samples: list[dict[str, Any]] = []
        self.elapsed_s = 0.0
        self.cars, self.clients, self.chaos = Tally(), Tally(), Tally()
        n = opts.connectors

        def client(tally: Tally, name: str) -> CountingClient:
            return CountingClient(station.command_endpoint, tally, f"{tag}-{name}")

        self.drivers = [
            SessionDriver(client(self.cars, f"car{i}"), i, (2.0, 8.0), seed + i) for i in range(1, n + 1)
        ]
        self.commanders = [
            CommandClient(client(self.clients, f"client{i}"), n, seed + 100 + i, opts.client_pause_s)
            for i in range(1, opts.clients + 1)
        ]
        self.probes = [Probe(client(self.chaos, f"probe{i}"), i, watcher) for i in range(1, n + 1)]
        rates = (opts.kill_rate, opts.hang_rate, opts.worker_kill_rate)
        self.killer = Killer(client(self.chaos, "killer"), self.probes, watcher, rates, opts.hang_s, seed)

    def run(self, seconds: float, until: Callable[[], bool] = lambda: True, most_s: float = 0.0) -> float:
        """Load and chaos for `seconds`, then on until `until()` holds or `most_s` passed; the time."""
        for thread in [*self.drivers, *self.commanders, *self.probes]:
            thread.start()
        time.sleep(1.0)  # the cars are plugged in
        self.killer.start()
        began = time.monotonic()
        while (elapsed_s := time.monotonic() - began) < seconds or (not until() and elapsed_s < most_s):
            time.sleep(min(seconds - elapsed_s, 30.0) if elapsed_s < seconds else 5.0)
            self._progress(time.monotonic() - began)
        self._stop()
        return time.monotonic() - began

    def _stop(self) -> None:
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
        unanswered = sum(t.outcomes["unanswered"] for t in (self.clients, self.cars, self.chaos))
        now = self.station.measure()
        self.samples.append({"elapsed_s": round(elapsed_s, 1), **now.to_json()})
        print(f"[{elapsed_s:6.0f} s] kills {self.killer.sent['kill']}, hangs {self.killer.sent['hang']}, "
              f"worker kills {self.killer.sent['worker']}, requests {sent}, unanswered {unanswered}; "
              f"station processes {now.processes}, threads {now.threads}, fds {now.fds}, "
              f"RSS {now.rss_bytes / 2**20:.1f} MiB", flush=True)  # fmt: skip

    def blows(self) -> list[Blow]:
        return [blow for probe in self.probes for blow in probe.done]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    opts = parser.parse_args(argv)
    if opts.worker_kill_rate > 0 and opts.isolation != "process":
        parser.error("--worker-kill-rate needs --isolation process (with threads there are no workers)")
    seed = opts.seed if opts.seed is not None else random.randrange(1, 10**6)
    if opts.station_kills > 0:
        opts.seed = seed
        return chaos_station_kills.run(opts)
    limits = Limits()
    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    config = workdir / "station.yaml"
    config.write_text(
        config_text(opts.connectors, opts.time_scale, limits, opts.isolation, opts.connectors_per_worker)
    )
    log_path = opts.log or Path(tempfile.gettempdir()) / f"chaos-station-{uuid.uuid4().hex[:8]}.log"
    station = StationProcess(config, workdir / "state", log_path, opts.log_level)
    try:
        report = Run(opts, seed, limits, station).report()
    finally:
        if station.alive():
            station.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(format_report(report), flush=True)
    if opts.json is not None:
        opts.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if all(report["targets"].values()) else 1


class Run:
    """The whole run: warm-up to a steady state, the measured chaos, the checks at the end."""

    def __init__(self, opts: argparse.Namespace, seed: int, limits: Limits, station: StationProcess) -> None:
        self.opts, self.seed, self.limits, self.station = opts, seed, limits, station
        self.run_id = uuid.uuid4().hex[:8]
        self.admin = CountingClient(station.command_endpoint, Tally(), f"{self.run_id}-admin")
        self.pager_tally = Tally()
        self.pager = EventCollector(
            CountingClient(station.command_endpoint, self.pager_tally, f"{self.run_id}-pager"),
            opts.connectors,
        )
        self.watcher = Watcher(station.publish_endpoint, zmq.Context.instance())

    def report(self) -> dict[str, Any]:
        self.station.wait_ready()
        _wait_workers(self.admin)
        fresh = self.station.measure()
        self.watcher.start()
        if not self.watcher.heartbeat.wait(10):
            raise RuntimeError("no heartbeat from the station")
        self.watcher.seed(self.admin.status())
        self.pager.start()
        warmup = self._warm_up()
        before = self.admin.status()
        self.admin.close()
        supervision_before = Counter(self.watcher.supervision)
        workers_before = Counter(self.watcher.worker_supervision)
        time.sleep(3.0)
        start = self.station.measure()
        print(f"start: {start}; chaos for {self.opts.duration_s:.0f} s", flush=True)
        phase = Phase(self.opts, self.station, self.watcher, f"{self.run_id}-chaos", self.seed)
        phase.run(self.opts.duration_s)
        end, settle_s = self.station.settle(start, 3.0, 20.0)
        after, epoch = self._finish()
        exit_code, exit_s = self.station.stop()
        report = self._figures(phase, warmup, before, after, (supervision_before, workers_before))
        report.update(warmup_s=warmup.elapsed_s, exit_code=exit_code, exit_s=exit_s, settle_s=settle_s,
                      station_log=self.station.log_summary(), samples=phase.samples)  # fmt: skip
        report["violations"] = self._violations(phase, warmup, epoch, after)
        report["double_executions"] = sum(
            len(double_executions(e, log)) for e, log in self.pager.events.items()
        )
        report["resources"] = {"fresh": fresh.to_json(), "start": start.to_json(), "end": end.to_json()}
        report["rss_growth_pct"] = (end.rss_bytes - start.rss_bytes) / start.rss_bytes * 100.0
        report["targets"] = targets(report)
        return report

    def _warm_up(self) -> Phase:
        """The same load and chaos until the bounded stores are full: every event log and 60 s of replies."""
        opts = self.opts
        print(f"station pid {self.station.proc.pid}, log {self.station.log_path}; warm-up at least "
              f"{opts.warmup_s:.0f} s, or until the event logs are full (at most {opts.warmup_max_s:.0f} s)",
              flush=True)  # fmt: skip
        warmup = Phase(opts, self.station, self.watcher, f"{self.run_id}-warmup", self.seed + 10_000)

        def full() -> bool:
            return all(len(events) >= EVENT_LOG_SIZE for events in self.pager.events.values())

        warmup.elapsed_s = warmup.run(opts.warmup_s, full, opts.warmup_max_s)
        return warmup

    def _finish(self) -> tuple[dict[str, Any], str]:
        self.pager.halt.set()
        self.pager.join(60)
        self.pager.collect()
        after = self.admin.status()
        epoch = str(self.admin.ping()["epoch"])
        self.admin.close()
        self.pager.client.close()
        self.watcher.stop()
        return after, epoch

    def _violations(self, phase: Phase, warmup: Phase, epoch: str, after: dict[str, Any]) -> list[str]:
        tallies = [phase.cars, phase.clients, phase.chaos, warmup.cars, warmup.clients, warmup.chaos,
                   self.pager_tally, self.admin.tally]  # fmt: skip
        found = all_violations(self.watcher, self.pager, tallies)
        if after["epoch"] != epoch or self.watcher.epochs != {epoch}:
            found.append(f"the station restarted: epoch {epoch}, seen {sorted(self.watcher.epochs)}")
        found.extend(f"evse {e['index']} supervisor {e['supervisor']['state']} at the end"
                     for e in after["evses"] if e["supervisor"]["state"] != "running")  # fmt: skip
        return found

    def _figures(
        self,
        phase: Phase,
        warmup: Phase,
        before: dict[str, Any],
        after: dict[str, Any],
        supervision_before: tuple[Counter[str], Counter[str]],
    ) -> dict[str, Any]:
        opts, killer = self.opts, phase.killer
        tallies = {
            "clients": phase.clients,
            "cars": phase.cars,
            "chaos": phase.chaos,
            "pager": self.pager_tally,
        }
        every = Tally()
        for tally in tallies.values():
            every.merge(tally)
        names = [str(e["value"]["event"]) for events in self.pager.events.values() for e in events]
        plugged = sum(d.plugged for d in [*warmup.drivers, *phase.drivers])
        return {
            "duration_s": opts.duration_s, "isolation": opts.isolation, "kill_rate": opts.kill_rate,
            "hang_rate": opts.hang_rate, "worker_kill_rate": opts.worker_kill_rate,
            "hang_s": opts.hang_s, "connectors": opts.connectors, "clients": opts.clients,
            "time_scale": opts.time_scale, "seed": self.seed, "limits": dataclasses.asdict(self.limits),
            "kills_sent": killer.sent["kill"], "hangs_sent": killer.sent["hang"],
            "worker_kills_sent": killer.sent["worker"],
            "worker_restarts_status": _worker_restarts(after) - _worker_restarts(before),
            "worker_supervision_events": dict(self.watcher.worker_supervision - supervision_before[1]),
            "kills_refused": dict(killer.refused), "killer_late_s": killer.late_s,
            "restarts_status": _restarts(after) - _restarts(before),
            "supervision_events": dict(self.watcher.supervision - supervision_before[0]),
            "blows": blow_figures(phase.blows()),
            "requests": {**{name: t.to_json() for name, t in tallies.items()}, "all": every.to_json()},
            "sessions": {
                "plugged": sum(d.plugged for d in phase.drivers),
                "unplugged": sum(d.unplugged for d in phase.drivers),
                "started": names.count("SessionStarted"),
                "finished": names.count("SessionFinished"),
            },
            "lost_sessions": lost_sessions(self.pager.events, plugged),
            "events_logged": {evse: len(events) for evse, events in self.pager.events.items()},
            "publications": self.watcher.publications, "powermeter": self.watcher.powermeter_count,
            "publications_lost_at_crashes": lost_at_crashes(self.watcher, self.pager.events),
            "crash_gaps": self.watcher.crash_gaps,
        }  # fmt: skip


def _restarts(status: dict[str, Any]) -> int:
    return sum(int(e["supervisor"]["restarts"]) for e in status["evses"])


def _wait_workers(admin: CountingClient, timeout_s: float = 30.0) -> None:
    """Until every worker serves (at once with thread isolation: no workers)."""
    deadline = time.monotonic() + timeout_s
    while any(w["state"] != "running" for w in admin.status().get("workers", [])):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the station's workers did not all serve within {timeout_s:g} s")
        time.sleep(0.1)


def _worker_restarts(status: dict[str, Any]) -> int:
    return sum(int(w["restarts"]) for w in status.get("workers", []))


if __name__ == "__main__":
    sys.exit(main())
