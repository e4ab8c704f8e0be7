"""Scale: a station of N connectors at rest and under a little load.

    .venv/bin/python bench/scale.py [--connectors 1000] [--runs 3] [--idle-s 30] [--requests 2000]
        [--fill-cycles 0] [--json FILE] [--isolation thread|process] [--connectors-per-worker N]

Each run starts `evse-supervisor run` in a subprocess on the default connector settings
(telemetry and meter readings every 1 s, the default supervision limits) and measures:
1. the time from the process start until every connector answers a command that goes
   through its session and reservation actors (`cancel_reservation`, false when idle);
2. idle: the station's CPU over `--idle-s` seconds as % of one core (psutil, user + system),
   its threads and RSS, each summed over the station's processes (with `--isolation
   process` the root, its forkserver and the workers; the root's own apart); the plant's
   (the simulated hardware's process) CPU apart;
3. with `--fill-cycles` sessions (plug in, authorize, unplug) on every connector first, the
   RSS with the in-memory event windows full;
4. with 10 % of the connectors charging, the round trip of `cancel_reservation` on the
   idle ones, 1 in flight, p50 and p99; and, in the same run, a bare pyzmq ROUTER echo
   (the floor) from the same client.
It prints each run and the medians over the runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import psutil
import zmq
from chaos_station import Limits, StationProcess, config_text

from drivers.sim.plant_wire import public_endpoint
from supervisor.plant.launch import call

ECHO = """
import sys, zmq
ctx = zmq.Context(); sock = ctx.socket(zmq.ROUTER); sock.bind("tcp://127.0.0.1:*")
print(sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
while True:
    sock.send_multipart(sock.recv_multipart())
"""
DEFAULT_LIMITS = Limits(
    intensity=5, period_s=30.0, backoff_min_s=0.05, backoff_max_s=5.0, ping_interval_s=0.5, ping_timeout_s=1.0
)


class Pipe:
    """A DEALER that keeps up to `window` requests in flight and collects their replies by id."""

    def __init__(self, endpoint: str, window: int = 64) -> None:
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self.sock = context.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)
        self.window = window
        self.ids = 0

    def request(self, cmd: str, evse: int | None = None, **args: Any) -> bytes:
        self.ids += 1
        body: dict[str, Any] = {"v": 1, "id": self.ids, "cmd": cmd, "client": "scale", "timeout_ms": 10_000}
        if evse is not None:
            body["evse"] = evse
        if args:
            body["args"] = args
        packed: bytes = msgpack.packb(body)
        return packed

    def run(self, requests: list[tuple[str, int | None, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Send them all (pipelined); the replies in request order."""
        first = self.ids + 1
        payloads = [self.request(cmd, evse, **args) for cmd, evse, args in requests]
        replies: dict[int, dict[str, Any]] = {}
        sent = 0
        while len(replies) < len(payloads):
            while sent < len(payloads) and sent - len(replies) < self.window:
                self.sock.send_multipart([b"", payloads[sent]])
                sent += 1
            if not self.sock.poll(30_000):
                raise RuntimeError("the station stopped answering")
            reply = msgpack.unpackb(self.sock.recv_multipart()[-1], raw=False)
            replies[reply["id"]] = reply
        return [replies[first + n] for n in range(len(payloads))]

    def close(self) -> None:
        self.sock.close()


def until_all_answer(pipe: Pipe, connectors: int, began: float) -> float:
    pending = list(range(1, connectors + 1))
    while pending:
        replies = pipe.run([("cancel_reservation", index, {}) for index in pending])
        pending = [
            index for index, reply in zip(pending, replies, strict=True) if reply.get("ok") is not True
        ]
        if pending:
            time.sleep(0.1)
    return time.monotonic() - began


def round_trips_ms(sock: zmq.Socket[bytes], payloads: list[bytes]) -> list[float]:
    times = []
    for payload in payloads:
        began = time.perf_counter()
        sock.send_multipart([b"", payload])
        sock.recv_multipart()
        times.append((time.perf_counter() - began) * 1000.0)
    return times


def percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50": ordered[len(ordered) // 2], "p99": ordered[int(len(ordered) * 0.99)]}


def one_run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    config = work / "station.yaml"
    config.write_text(
        config_text(args.connectors, 1.0, DEFAULT_LIMITS, args.isolation, args.connectors_per_worker)
    )
    shutil.rmtree(work / "state", ignore_errors=True)
    began = time.monotonic()
    station = StationProcess(config, work / "state", work / "station.log")
    result: dict[str, Any] = {}
    try:
        station.wait_ready(120.0)
        pipe = Pipe(station.command_endpoint)
        result["all_answering_s"] = until_all_answer(pipe, args.connectors, began)
        time.sleep(5.0)  # the start's work settles
        plant = _plant_process(work / "state")
        cpu_before, plant_before, idle_began = _tree_cpu_s(station), _cpu_s(plant), time.monotonic()
        time.sleep(args.idle_s)
        cpu_after, idle_s = _tree_cpu_s(station), time.monotonic() - idle_began
        used_s = sum(cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after)
        root_s = cpu_after[station.process.pid] - cpu_before[station.process.pid]
        resources = station.measure()
        result.update(idle_cpu_percent=100.0 * used_s / idle_s, threads=resources.threads)
        result.update(root_idle_cpu_percent=100.0 * root_s / idle_s, processes=resources.processes)
        result["plant_idle_cpu_percent"] = 100.0 * (_cpu_s(plant) - plant_before) / idle_s
        result.update(idle_rss_mib=resources.rss_bytes / 2**20, fds=resources.fds)
        all_evses = range(1, args.connectors + 1)
        for _ in range(args.fill_cycles):
            pipe.run([("sim_plug_in", i, {}) for i in all_evses])
            pipe.run([("authorize", i, {"auth_token": "SCALE"}) for i in all_evses])
            pipe.run([("sim_unplug", i, {}) for i in all_evses])
        result["filled_rss_mib"] = station.measure().rss_bytes / 2**20
        charging = range(1, max(1, args.connectors // 10) + 1)
        pipe.run([("sim_plug_in", i, {}) for i in charging])
        pipe.run([("authorize", i, {"auth_token": "SCALE"}) for i in charging])
        idle = [i for i in all_evses if i not in charging]
        payloads = [pipe.request("cancel_reservation", idle[n % len(idle)]) for n in range(args.requests)]
        result["command_ms"] = percentiles(round_trips_ms(pipe.sock, payloads))
        result["echo_ms"] = echo_floor(args.requests)
        result["loaded_rss_mib"] = station.measure().rss_bytes / 2**20
        pipe.close()
    finally:
        code, stop_s = station.stop()
        result.update(exit_code=code, stop_s=stop_s)
    return result


def _plant_process(state_dir: Path) -> psutil.Process | None:
    """The plant of the state dir, asked on its own endpoint (the station's `status` names it too,
    but a status of every connector may not be answered in time on a large station)."""
    found = call(public_endpoint(state_dir), "ping", 2.0)
    return None if found is None else psutil.Process(int(found["pid"]))


def _tree_cpu_s(station: StationProcess) -> dict[int, float]:
    """The CPU seconds of each of the station's processes (the root, and its workers), by pid."""
    found = {}
    for process in station.tree():
        try:
            found[process.pid] = _cpu_s(process)
        except psutil.Error:
            continue
    return found


def _cpu_s(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return float(times.user + times.system)


def echo_floor(requests: int) -> dict[str, float]:
    echo = subprocess.Popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout is not None
        endpoint = echo.stdout.readline().strip()
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        sock = context.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        payload = msgpack.packb({"v": 1, "id": 1, "cmd": "ping"})
        round_trips_ms(sock, [payload] * 100)  # warm-up
        floor = percentiles(round_trips_ms(sock, [payload] * requests))
        sock.close()
        return floor
    finally:
        echo.kill()
        echo.wait()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connectors", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-s", type=float, default=30.0)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--fill-cycles", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--isolation", choices=("thread", "process"), default="thread")
    parser.add_argument("--connectors-per-worker", type=int, default=125, help="with --isolation process")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for number in range(1, args.runs + 1):
            run = one_run(args, Path(tmp))
            runs.append(run)
            print(f"run {number}: {json.dumps(run)}", flush=True)
    summary = {
        "connectors": args.connectors,
        "all_answering_s": statistics.median(r["all_answering_s"] for r in runs),
        "isolation": args.isolation,
        "connectors_per_worker": args.connectors_per_worker if args.isolation == "process" else None,
        "idle_cpu_percent": statistics.median(r["idle_cpu_percent"] for r in runs),
        "root_idle_cpu_percent": statistics.median(r["root_idle_cpu_percent"] for r in runs),
        "plant_idle_cpu_percent": statistics.median(r["plant_idle_cpu_percent"] for r in runs),
        "threads": statistics.median(r["threads"] for r in runs),
        "idle_rss_mib": statistics.median(r["idle_rss_mib"] for r in runs),
        "filled_rss_mib": statistics.median(r["filled_rss_mib"] for r in runs),
        "command_p50_ms": statistics.median(r["command_ms"]["p50"] for r in runs),
        "command_p99_ms": statistics.median(r["command_ms"]["p99"] for r in runs),
        "echo_p50_ms": statistics.median(r["echo_ms"]["p50"] for r in runs),
        "echo_p99_ms": statistics.median(r["echo_ms"]["p99"] for r in runs),
    }
    print("median: " + json.dumps(summary, indent=1))
    if args.json is not None:
        args.json.write_text(json.dumps({"runs": runs, "median": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
