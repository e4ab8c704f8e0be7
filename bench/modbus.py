"""Benchmark of the Modbus drivers over loopback: one driver call against the bare request floor.

    .venv/bin/python bench/modbus.py [--calls N] [--runs R]

Against a pymodbus server holding each model's map (tests/drivers/modbus/devices.py, in this
process on its own event loop thread): the bare floor (one pymodbus client read of one
register, retries=0), an SDM630 reading (3 requests), a Bender board poll (3 reads and the
limit refresh every 0.5 s), a Bender meter reading (1 request), over Modbus TCP and RTU
framing over TCP. Prints the median and p99 of each call in ms, per run and their median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymodbus.client import ModbusTcpClient
from pymodbus.framer import FramerType

from drivers.base import PilotSignal
from tests.drivers.rigs import ModbusRig


def timed(call: Callable[[], object], calls: int) -> tuple[float, float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000.0)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def one_run(framing: str, calls: int) -> dict[str, tuple[float, float]]:
    sdm630, bender = ModbusRig("eastron_sdm630", framing), ModbusRig("bender_cc613", framing)
    try:
        endpoint = sdm630.meter_device.endpoint
        framer = FramerType.SOCKET if framing == "tcp" else FramerType.RTU
        bare = ModbusTcpClient(endpoint.host, port=endpoint.port, framer=framer, timeout=1, retries=0)
        bender.plug_in()
        bender.board.set_pilot(PilotSignal.pwm(16.0))
        bender.board.allow_power(True)

        def board_poll() -> object:
            bender.clock.advance(0.2)  # past the poll interval: every call reads
            return bender.board.status()

        results = {
            "bare read (1 request)": timed(lambda: bare.read_input_registers(0, count=2, device_id=1), calls),
            "SDM630 reading (3 requests)": timed(sdm630.meter.reading, calls),
            "Bender board poll (3 reads + refresh)": timed(board_poll, calls),
            "Bender meter reading (1 request)": timed(bender.meter.reading, calls),
        }
        bare.close()  # type: ignore[no-untyped-call]
        return results
    finally:
        sdm630.stop()
        bender.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    for framing in ("tcp", "rtu"):
        runs = [one_run(framing, options.calls) for _ in range(options.runs)]
        print(
            f"{framing} framing, {options.calls} calls x {options.runs} runs (ms: median of run medians, p99)"
        )
        for name in runs[0]:
            p50 = statistics.median(run[name][0] for run in runs)
            p99 = statistics.median(run[name][1] for run in runs)
            print(f"  {name:<40} p50 {p50:6.3f}  p99 {p99:6.3f}")


if __name__ == "__main__":
    main()
