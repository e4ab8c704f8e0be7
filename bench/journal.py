"""The journal's cost: what a write adds to a session event and to a command.

    .venv/bin/python bench/journal.py [--writes N] [--requests N] [--runs R]

1. `ConnectorJournal.write` on a temporary file, as the station calls it: a session event
   (committed with synchronous=FULL before it is published), a state change with the reply
   of a keyed request (FULL), a meter checkpoint (synchronous=NORMAL). p50 / p99 per write:
   the time the journal adds to each.
2. `evse-supervisor run` (a temporary state dir): the round trip of `set_local_max_current`
   on evse 1 with a `client` (its reply journaled with the change) and without one (the
   change journaled), of `resume_charging` on an idle connector (nothing written), and of
   a bare ZeroMQ echo (the floor), in the same run, 1 in flight.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
from api import echo_server, percentile, round_trips, station

from drivers.clock import SystemClock
from supervisor.journal.connector import ConnectorJournal


def _timed(write: Callable[[int], None], count: int) -> list[float]:
    times = []
    for n in range(count):
        began = time.perf_counter()
        write(n)
        times.append(time.perf_counter() - began)
    return times


def journal_writes(count: int, runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-journal-"))
    try:
        journal = ConnectorJournal(work / "evse.sqlite3", SystemClock())
        seq = iter(range(1, 10**9))
        event = {"uuid": "0" * 32, "event": "ChargingResumed"}
        kinds: dict[str, Callable[[int], None]] = {
            "session event (FULL)": lambda n: journal.write({}, [(next(seq), time.time(), event)]),
            "change + keyed reply (FULL)": lambda n: journal.write(
                {"plug_count": n}, reply=(("bench", n), "Success")
            ),
            "meter checkpoint (NORMAL)": lambda n: journal.write({"plug_count": n}, durable=False),
        }
        print(f"journal writes on {work} ({runs} runs x {count}):")
        print(f"{'write':30} {'p50 µs':>9} {'p99 µs':>9} {'median of run p50s µs':>22}")
        for name, write in kinds.items():
            results = [_timed(write, count) for _ in range(runs)]
            every = [t for result in results for t in result]
            medians = statistics.median(percentile(result, 0.5) for result in results)
            p50, p99 = percentile(every, 0.5) * 1e6, percentile(every, 0.99) * 1e6
            print(f"{name:30} {p50:9.0f} {p99:9.0f} {medians * 1e6:22.0f}")
        journal.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bodies(request: dict[str, Any], total: int, keyed: bool) -> list[bytes]:
    bodies = []
    for n in range(total):
        body = (
            {**request, "id": n, "args": {"max_current": 16 + n % 2}}
            if "args" in request
            else {**request, "id": n}
        )
        if keyed:
            body["client"] = f"bench-{time.monotonic_ns()}"
        bodies.append(msgpack.packb(body))
    return bodies


def command_latency(total: int, runs: int) -> None:
    limit = {"v": 1, "cmd": "set_local_max_current", "evse": 1, "args": {}}
    resume = {"v": 1, "cmd": "resume_charging", "evse": 1}
    print(f"\nround trips, 1 in flight ({runs} runs x {total}):")
    print(f"{'request':44} {'p50 µs':>9} {'p99 µs':>9}")
    with echo_server() as endpoint:
        _line("bare ROUTER echo (floor)", endpoint, {"v": 1, "cmd": "ping"}, False, total, runs)
    with station() as endpoint:
        _line("resume_charging (nothing journaled)", endpoint, resume, False, total, runs)
        _line("set_local_max_current (change journaled)", endpoint, limit, False, total, runs)
        _line("set_local_max_current + client (reply too)", endpoint, limit, True, total, runs)


def _line(name: str, endpoint: str, request: dict[str, Any], keyed: bool, total: int, runs: int) -> None:
    """Fresh bodies for every run: a keyed request sent again would be answered from the store."""
    round_trips(endpoint, _bodies(request, 200, keyed), 1)  # warm up
    rtts = [
        rtt for _ in range(runs) for rtt in round_trips(endpoint, _bodies(request, total, keyed), 1).rtts_s
    ]
    print(f"{name:44} {percentile(rtts, 0.5) * 1e6:9.0f} {percentile(rtts, 0.99) * 1e6:9.0f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writes", type=int, default=2000, help="journal writes per run (default 2000)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per run (default 2000)")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    journal_writes(options.writes, options.runs)
    command_latency(options.requests, options.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
