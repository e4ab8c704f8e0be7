"""Benchmark of the OCPP bridge: what it costs an idle station, and what it adds to `authorize`.

    .venv/bin/python -m bench.ocpp_bridge [--connectors N] [--runs R] [--window-s W] [--requests K]

In this process: the real station and its API on loopback (tests/live.py), with and without
an `ocpp:` section pointing at the tests' central system (tests/supervisor/ocpp/central.py,
the `ocpp` library's central-system side) over real WebSockets on loopback.
1. Idle CPU: the process's CPU seconds per wall second over W s, no car plugged, for the
   station alone and with the bridge connected (it reads every connector's events and
   state every 0.1 s). Median over R runs.
2. `authorize` round trip from a client (a pre-authorization of evse 1, no car): without
   OCPP (the station's floor) and with it (each one an Authorize.req to the central
   system and its answer). p50 and p99 over K requests, median of the R runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil

from supervisor.config.settings import StationSettings
from tests.live import LiveStation, live_settings
from tests.supervisor.ocpp.central import CentralSystem
from tests.supervisor.ocpp.test_bridge import ocpp_settings


def settings_for(state_dir: Path, connectors: int, central: CentralSystem | None) -> StationSettings:
    base = live_settings(state_dir, chaos=False)
    template = base.connectors[0]
    many = tuple(
        dataclasses.replace(template, index=i, evse_id=f"DE*PNX*E{i:06d}") for i in range(1, connectors + 1)
    )
    ocpp = None if central is None else ocpp_settings(central, meter_values_interval_s=60)
    return dataclasses.replace(base, connectors=many, ocpp=ocpp)


def idle_cpu(window_s: float) -> float:
    process = psutil.Process()
    before, started = process.cpu_times(), time.monotonic()
    threading.Event().wait(window_s)
    after = process.cpu_times()
    used_s = (after.user - before.user) + (after.system - before.system)
    return used_s / (time.monotonic() - started)


def authorize_rtts(live: LiveStation, requests: int) -> list[float]:
    client = live.client(timeout_s=10.0)
    rtts = []
    for _ in range(requests):
        started = time.perf_counter()
        assert client.authorize(1, "CARD-1") is True
        rtts.append(time.perf_counter() - started)
    return sorted(rtts)


def one_run(connectors: int, window_s: float, requests: int, with_ocpp: bool) -> tuple[float, float, float]:
    central = CentralSystem().start() if with_ocpp else None
    if central is not None:
        central.tags["CARD-1"] = "Accepted"
    with tempfile.TemporaryDirectory() as state_dir:
        live = LiveStation(settings_for(Path(state_dir), connectors, central))
        try:
            if central is not None:
                central.wait_for("StatusNotification", lambda p: p["connectorId"] == connectors, 60)
            cpu = idle_cpu(window_s)
            rtts = authorize_rtts(live, requests)
        finally:
            live.close()
            if central is not None:
                central.close()
    return cpu, rtts[len(rtts) // 2], rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window-s", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=200)
    options = parser.parse_args()
    print(f"{options.connectors} connectors, {options.runs} runs, idle window {options.window_s} s")
    for with_ocpp in (False, True):
        runs = [
            one_run(options.connectors, options.window_s, options.requests, with_ocpp)
            for _ in range(options.runs)
        ]
        cpu, p50, p99 = (statistics.median(values) for values in zip(*runs, strict=True))
        label = "with the OCPP bridge" if with_ocpp else "without OCPP      "
        latency = f"authorize p50 {p50 * 1e3:6.2f} ms, p99 {p99 * 1e3:6.2f} ms"
        print(f"{label}: idle CPU {cpu * 100:5.1f} % of a core; {latency}")


if __name__ == "__main__":
    main()
