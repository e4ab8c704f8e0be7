"""`evse-supervisor run` in a subprocess, its log file, and a bounded wait for what it logs."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from supervisor.client import Client
from supervisor.station.endpoints import read_endpoints

BIN = pathlib.Path(sys.executable).parent
STATION = str(BIN / "evse-supervisor")
WAIT_S = 15.0


def free_endpoint(scheme: str = "tcp") -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"


def wait_until(check: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    """`check()`'s first truthy value, looked at every 50 ms up to `timeout_s`; else AssertionError."""
    done = threading.Event()
    for _ in range(int(timeout_s / 0.05)):
        found = check()
        if found:
            return found
        done.wait(0.05)
    raise AssertionError(f"not seen within {timeout_s} s: {what}")


class RunningStation:
    """A station process logging to `log_file`; commands through `client`."""

    def __init__(
        self,
        state_dir: pathlib.Path,
        *args: str,
        log_file: pathlib.Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_file = log_file or state_dir.parent / f"{state_dir.name}.log"
        argv = [STATION, "run", "--chaos", "--state-dir", str(state_dir), "--log-file", str(self.log_file)]
        argv += ["--command-endpoint", "tcp://127.0.0.1:*", "--publish-endpoint", "tcp://127.0.0.1:*", *args]
        self.output = open(state_dir.parent / f"{state_dir.name}.out", "wb")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(
            argv, stdout=self.output, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        bound = wait_until(lambda: self._bound(state_dir), "the station's endpoints.json")
        self.command, self.publish = bound["command_endpoint"], bound["publish_endpoint"]
        self.client = Client(self.command, self.publish, timeout_s=2.0, retries=10)
        self.client.ping()

    def _bound(self, state_dir: pathlib.Path) -> dict[str, Any] | None:
        """The endpoints this station bound (`*` ports), once it wrote them; it must still run."""
        assert self.proc.poll() is None, f"the station exited with {self.proc.returncode}"
        bound = read_endpoints(state_dir)
        return bound if bound is not None and bound.get("pid") == self.proc.pid else None

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def wait_log(self, text: str, timeout_s: float = WAIT_S) -> str:
        return str(wait_until(lambda: text in self.log() and self.log(), f"{text!r} in the log", timeout_s))

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.proc.pid, signum)

    def stop(self) -> int:
        """SIGTERM and the exit code (the process is killed if it does not end)."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.output.close()
        return code
