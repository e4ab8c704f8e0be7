"""Benchmark of the ZeroMQ API: round trips against the station and against a bare echo, publications.

    .venv/bin/python bench/api.py [--requests N] [--runs R] [--clients C] [--publications N]
        [--isolation thread|process]

1. A bare pyzmq ROUTER that echoes every request (a subprocess): the floor.
2. `evse-supervisor run` in a subprocess (free loopback ports, a temporary state dir):
   the round trip of `ping` (answered by the socket thread) and of `get_events` on evse 1
   with a `since` beyond the last event (a connector command: into the station, on the
   socket thread while nothing else of evse 1 is queued) and of `resume_charging` on an idle
   evse 1 (a connector command through the connector's worker and its session actor, which
   answers false), with 1 and 16 requests in flight; then `resume_charging` spread over the
   8 connectors of config/examples/eight-connectors.yaml in turn. With `--isolation
   process` the station runs its connectors in worker processes (one connector each): a
   connector command goes from the root's socket thread over `ipc://` to the worker's API
   and back; `ping` stays the root's. The station is measured once every worker serves.
   The client is a tight DEALER loop over requests packed before the clock starts; with
   `--clients C` the 16 in flight are shared by C client processes (one process drives
   the echo at ~75,000/s on 2 cores, so 1 is the default).
3. Publications/s: N publications through a `Bus` and the API's XPUB sink in this process
   to one SUB in another process (the XPUB path alone, without the actors that would
   publish at a few Hz each). The burst outruns the XPUB thread: what does not fit the
   sink's queue is dropped there (the bus never waits); the subscriber sets a deep RCVHWM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import msgpack
import zmq
from chaos_station import stop_on_sigterm

from drivers.clock import SystemClock
from supervisor.api.publisher import PublicationSink, configure_xpub
from supervisor.station.bus import Bus

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_ping(endpoint: str, timeout_s: float = 20.0) -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock = context.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        sock.send(msgpack.packb({"id": 0, "cmd": "ping"}))
        answered = sock.poll(200)
        sock.close()
        if answered:
            return
    raise RuntimeError(f"nothing answers on {endpoint}")


def wait_for_workers(endpoint: str, timeout_s: float = 30.0) -> None:
    """Until `status` shows every worker serving (at once with thread isolation: no workers)."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            sock.send(msgpack.packb({"v": 1, "id": 1, "cmd": "status"}))
            if sock.poll(5000):
                workers = msgpack.unpackb(sock.recv(), raw=False)["result"].get("workers", [])
                if all(w["state"] == "running" for w in workers):
                    return
            time.sleep(0.1)
    finally:
        sock.close()
    raise RuntimeError(f"the workers behind {endpoint} did not all serve within {timeout_s:g} s")


@contextlib.contextmanager
def station(config: str | None = None, isolation: str = "thread") -> Iterator[str]:
    """`evse-supervisor run` on a free port in that isolation; yields the command endpoint."""
    state_dir = tempfile.mkdtemp(prefix="bench-api-")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    argv = [str(BIN / "evse-supervisor"), "run", "--command-endpoint", endpoint,
            "--publish-endpoint", f"tcp://127.0.0.1:{free_port()}", "--state-dir", state_dir,
            "--log-level", "WARNING"]  # fmt: skip
    if config is not None:
        argv += ["--config", config]
    argv += ["--isolation", isolation]
    proc = subprocess.Popen(argv, start_new_session=True)
    try:
        wait_for_ping(endpoint)
        wait_for_workers(endpoint)
        yield endpoint
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        shutil.rmtree(state_dir, ignore_errors=True)


@contextlib.contextmanager
def echo_server() -> Iterator[str]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = subprocess.Popen([sys.executable, __file__, "--role", "echo", endpoint])
    try:
        wait_for_ping(endpoint)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(5)


def run_echo(endpoint: str) -> None:
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.bind(endpoint)
    while True:
        router.send_multipart(router.recv_multipart())


@dataclass
class Result:
    rtts_s: list[float]
    started: float  # perf_counter (CLOCK_MONOTONIC: comparable across processes)
    ended: float

    @property
    def throughput(self) -> float:
        return len(self.rtts_s) / (self.ended - self.started)


def payloads(request: dict[str, Any], total: int) -> list[bytes]:
    """Every request packed before the clock starts: the loop measures the station, not msgpack.

    A request with `"evse": [1, 2, ...]` goes to those connectors in turn.
    """
    evses = request.get("evse")
    if not isinstance(evses, list):
        return [msgpack.packb({**request, "id": n}) for n in range(total)]
    return [msgpack.packb({**request, "id": n, "evse": evses[n % len(evses)]}) for n in range(total)]


def round_trips(endpoint: str, bodies: list[bytes], in_flight: int) -> Result:
    """Send `bodies` over one DEALER keeping `in_flight` outstanding; every RTT."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    sock.rcvtimeo = 10_000
    sock.connect(endpoint)
    total = len(bodies)
    sent_at = [0.0] * total
    rtts: list[float] = []
    send, recv, unpackb, clock, done = sock.send, sock.recv, msgpack.unpackb, time.perf_counter, rtts.append
    started = clock()
    next_id = min(in_flight, total)
    for n in range(next_id):
        sent_at[n] = clock()
        send(bodies[n])
    for _ in range(total):
        reply = recv()
        now = clock()
        done(now - sent_at[unpackb(reply)["id"]])
        if next_id < total:
            sent_at[next_id] = clock()
            send(bodies[next_id])
            next_id += 1
    ended = clock()
    sock.close()
    return Result(rtts, started, ended)


def run_client(endpoint: str, request_json: str, total: int, in_flight: int) -> None:
    """A client process: warm up, say ready, wait for go, run, print the result as msgpack hex."""
    request = json.loads(request_json)
    round_trips(endpoint, payloads(request, min(total, 500)), in_flight)
    bodies = payloads(request, total)
    print("ready", flush=True)
    sys.stdin.readline()
    result = round_trips(endpoint, bodies, in_flight)
    print(msgpack.packb([result.rtts_s, result.started, result.ended]).hex(), flush=True)


def in_processes(endpoint: str, request: dict[str, Any], total: int, in_flight: int, clients: int) -> Result:
    """`clients` processes sharing `in_flight` and `total`, started together; their RTTs merged."""
    argv = [sys.executable, __file__, "--role", "client", endpoint, json.dumps(request)]
    procs = [
        subprocess.Popen(
            [*argv, str(total // clients), str(in_flight // clients)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    parts = []
    for proc in procs:
        assert proc.stdout is not None
        parts.append(msgpack.unpackb(bytes.fromhex(proc.stdout.readline().strip())))
        proc.wait(10)
    rtts = [rtt for part in parts for rtt in part[0]]
    return Result(rtts, min(part[1] for part in parts), max(part[2] for part in parts))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(
    endpoint: str, request: dict[str, Any], total: int, in_flight: int, runs: int, clients: int
) -> str:
    """p50, p99 over all runs; requests/s median and best of the runs."""
    if clients > 1:
        results = [in_processes(endpoint, request, total, in_flight, clients) for _ in range(runs)]
    else:
        round_trips(endpoint, payloads(request, min(total, 500)), in_flight)  # warm up
        bodies = payloads(request, total)
        results = [round_trips(endpoint, bodies, in_flight) for _ in range(runs)]
    rtts = [rtt for result in results for rtt in result.rtts_s]
    best = max(result.throughput for result in results)
    median_throughput = statistics.median(result.throughput for result in results)
    p50, p99 = percentile(rtts, 0.50) * 1e6, percentile(rtts, 0.99) * 1e6
    return f"{clients:7} {p50:9.0f} {p99:9.0f} {median_throughput:12.0f} {best:10.0f}"


def run_subscriber(endpoint: str) -> None:
    """Count publications until the end mark (or 3 s of silence); print count and seconds."""
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.rcvhwm = 100_000  # advice for a subscriber that takes bursts: a deep receive queue
    sub.rcvtimeo = 3000
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    while msgpack.unpackb(sub.recv_multipart()[-1])["value"] != "ready?":
        pass
    print("ready", flush=True)
    count, first, last = 0, 0.0, 0.0
    recv, clock, unpackb = sub.recv_multipart, time.perf_counter, msgpack.unpackb
    with contextlib.suppress(zmq.Again):
        while True:
            topic, body = recv()
            if topic == b"station/ready":
                continue
            if topic == b"end":
                break
            last = clock()
            first = first or last
            count += 1
            unpackb(body)
    print(count, last - first, flush=True)


def publications(total: int) -> str:
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    configure_xpub(xpub)
    xpub.bind("tcp://127.0.0.1:*")
    endpoint = xpub.getsockopt_string(zmq.LAST_ENDPOINT)
    sink = PublicationSink(xpub)
    sink.start()
    bus = Bus("bench", SystemClock())
    bus.attach(sink)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--role", "sub", endpoint], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    while not select.select([proc.stdout], [], [], 0.01)[0]:  # until the subscription is in place
        bus.publish("station", "station/ready", "ready?")
    assert proc.stdout.readline().startswith("ready")
    while sink.queued:
        time.sleep(0.001)
    base_sent, base_dropped = sink.sent, sink.dropped
    telemetry = {"temperature": 31.5, "fan_rpm": 0.0, "supply_voltage_12V": 12.0,
                 "supply_voltage_minus_12V": -12.0, "rcd_current": 0.4, "relais_on": True}  # fmt: skip
    started = time.perf_counter()
    for n in range(total):
        bus.publish(f"evse/{n % 8 + 1}", f"evse/{n % 8 + 1}/telemetry", telemetry)
    publish_s = time.perf_counter() - started
    while sink.sent + sink.dropped < base_sent + base_dropped + total:
        time.sleep(0.001)
    drained_s = time.perf_counter() - started
    xpub_sent, xpub_dropped = sink.sent - base_sent, sink.dropped - base_dropped
    bus.publish("end", "end", None)
    received, receive_s = proc.stdout.read().split()
    proc.wait(10)
    sink.stop()
    context.term()
    return (
        f"{total} publications of a telemetry map over 8 sources:\n"
        f"  bus.publish in this process     {total / publish_s:10.0f} /s\n"
        f"  through the XPUB thread         {total / drained_s:10.0f} /s "
        f"(sent {xpub_sent}, dropped with the queue full {xpub_dropped})\n"
        f"  received by one SUB (process)   {int(received) / max(float(receive_s), 1e-9):10.0f} /s "
        f"({received} of {total})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5000, help="requests per run (default 5000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=1, help="client processes for 16 in flight")
    parser.add_argument("--publications", type=int, default=200_000)
    parser.add_argument(
        "--isolation", choices=("thread", "process"), default="thread", help="the station's (default thread)"
    )
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.role:
        return run_role(options.role)
    stop_on_sigterm()  # a `timeout` around the bench stops the station it started, too
    ping = {"v": 1, "cmd": "ping"}
    connector = {"v": 1, "cmd": "get_events", "evse": 1, "args": {"since": 10**12}}
    through_actor = {"v": 1, "cmd": "resume_charging", "evse": 1}  # worker → session actor, answers false
    print(f"round trips over tcp loopback, DEALERs, {options.runs} runs x {options.requests} requests; "
          f"the station in isolation {options.isolation}")  # fmt: skip
    print(f"{'target':30} {'in flight':>9} {'clients':>7} {'p50 µs':>9} {'p99 µs':>9} "
          f"{'req/s median':>12} {'req/s best':>10}")  # fmt: skip
    spread = {**through_actor, "evse": list(range(1, 9))}  # over the 8 connectors in turn
    eight = str(ROOT / "config" / "examples" / "eight-connectors.yaml")
    isolated = partial(station, isolation=options.isolation)
    targets = (("bare ROUTER echo (floor)", [ping], echo_server),
               ("station", [ping, connector, through_actor], isolated),
               ("station, 8 evses", [spread], partial(isolated, eight)))  # fmt: skip
    for name, requests, serve in targets:
        with serve() as endpoint:
            for request in requests:
                label = f"{name}: {request['cmd']}" if request is not ping or len(requests) > 1 else name
                for in_flight in (1, 16):
                    clients = 1 if in_flight == 1 else options.clients
                    line = measure(endpoint, request, options.requests, in_flight, options.runs, clients)
                    print(f"{label:30} {in_flight:9} {line}", flush=True)
    print()
    print(publications(options.publications))
    return 0


def run_role(role: list[str]) -> int:
    if role[0] == "echo":
        run_echo(role[1])
    elif role[0] == "sub":
        run_subscriber(role[1])
    else:
        run_client(role[1], role[2], int(role[3]), int(role[4]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
