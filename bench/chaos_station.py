"""The station under chaos: its YAML configuration, its process, its resources (psutil)."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import psutil
import yaml
import zmq

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Limits:
    """Supervision limits written to the configuration (raised so that no connector is given up)."""

    intensity: int = 10_000
    period_s: float = 1.0
    backoff_min_s: float = 0.0
    backoff_max_s: float = 0.01
    ping_interval_s: float = 0.2
    ping_timeout_s: float = 0.5


@dataclass(frozen=True)
class Resources:
    """Summed over the station's processes: the root, and with process isolation its forkserver
    and workers (the plant, a process of its own, is not counted)."""

    threads: int
    fds: int
    rss_bytes: int
    processes: int = 1

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_text(
    connectors: int, time_scale: float, limits: Limits, isolation: str = "thread", per_worker: int = 1
) -> str:
    """A station of `connectors` identical simulated connectors, chaos commands allowed."""
    station: dict[str, Any] = {"name": "chaos", "chaos": True, "supervision": dataclasses.asdict(limits)}
    if isolation != "thread":
        station.update(isolation=isolation, connectors_per_worker=per_worker)
    document: dict[str, Any] = {
        "station": station,
        "connectors": [
            {"evse_id": f"XX*CHAOS*E1*{index}", "max_current_a": 32} for index in range(1, connectors + 1)
        ],
        "sim": {"time_scale": time_scale},
    }
    return yaml.safe_dump(document, sort_keys=False)


class StationProcess:
    """`evse-supervisor run` in a subprocess on free loopback ports; its log goes to `log_path`."""

    def __init__(
        self, config_path: Path, state_dir: Path, log_path: Path, log_level: str = "WARNING"
    ) -> None:
        self.command_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.publish_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.log_path = log_path
        argv = [str(BIN / "evse-supervisor"), "run", "--config", str(config_path),
                "--command-endpoint", self.command_endpoint, "--publish-endpoint", self.publish_endpoint,
                "--state-dir", str(state_dir), "--log-level", log_level]  # fmt: skip
        self._log = log_path.open("wb")
        stop_on_sigterm()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.process = psutil.Process(self.proc.pid)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until the station answers `ping`."""
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the station exited with {self.proc.returncode}; see {self.log_path}")
            sock = context.socket(zmq.DEALER)
            sock.linger = 0
            sock.connect(self.command_endpoint)
            sock.send_multipart([b"", msgpack.packb({"id": 0, "cmd": "ping"})])
            answered = sock.poll(200)
            sock.close()
            if answered:
                return
        raise RuntimeError(f"nothing answers on {self.command_endpoint}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tree(self) -> list[psutil.Process]:
        """The root and its descendants (the forkserver, the workers it forked) but the plant."""
        found = [self.process]
        with contextlib.suppress(psutil.Error):
            found += self.process.children(recursive=True)
        return [p for p in found if not _is_plant(p)]

    def measure(self) -> Resources:
        threads = fds = rss_bytes = processes = 0
        for process in self.tree():
            try:
                with process.oneshot():
                    threads += process.num_threads()
                    fds += process.num_fds()
                    rss_bytes += process.memory_info().rss
                    processes += 1
            except psutil.Error:
                continue  # a worker that ended while it was measured
        return Resources(threads, fds, rss_bytes, processes)

    def settle(self, start: Resources, min_s: float, max_s: float) -> tuple[Resources, float]:
        """Wait `min_s`, then up to `max_s` for threads and fds (and processes) to be back to `start`."""
        began = time.monotonic()
        time.sleep(min_s)
        now = self.measure()
        while time.monotonic() - began < max_s and (
            now.threads > start.threads or now.fds > start.fds or now.processes != start.processes
        ):
            time.sleep(0.25)
            now = self.measure()
        return now, time.monotonic() - began

    def stop(self, timeout_s: float = 15.0) -> tuple[int | None, float]:
        """SIGTERM; the exit code (None if it had to be killed) and how long the exit took."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        elapsed_s = time.monotonic() - began
        self._log.close()
        return code, elapsed_s

    def log_summary(self) -> dict[str, int]:
        """Lines of the station's log: all, tracebacks, and ERROR lines not from a chaos kill."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        errors = [line for line in lines if " ERROR " in line]
        chaos = [line for line in lines if "ChaosFailure" in line or "chaos_kill" in line]
        return {
            "lines": len(lines),
            "tracebacks": sum(1 for line in lines if line.startswith("Traceback")),
            "error_lines": len(errors),
            "chaos_lines": len(chaos),
        }


def stop_on_sigterm() -> None:
    """A SIGTERM (a `timeout` around the bench) ends the bench through its `finally`s, which stop
    the station: its own session keeps it from the signal, so it would otherwise run on."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _is_plant(process: psutil.Process) -> bool:
    """The simulated plant (`python -m supervisor.cli.main plant ...`) outlives a station: not counted."""
    try:
        command = process.cmdline()
        return "supervisor.cli.main" in command and "plant" in command
    except psutil.Error:
        return False
