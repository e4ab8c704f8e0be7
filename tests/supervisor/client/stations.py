"""Real stations for evsectl's tests: `evse-supervisor run` in a subprocess, and `evsectl` to run."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field

BIN = pathlib.Path(sys.executable).parent
SERVING = re.compile(
    r"station (\S+) serving \d+ connectors(?: in \d+ worker processes)?: "
    r"commands on (\S+), publications on (\S+)"
)
START_S = 30.0


@dataclass
class StationProcess:
    """`evse-supervisor run --config FILE` with its endpoints read from its log line."""

    config: pathlib.Path
    proc: subprocess.Popen[str]
    name: str = ""
    endpoint: str = ""
    publish_endpoint: str = ""
    log: list[str] = field(default_factory=list)
    drainer: threading.Thread | None = None
    serving: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(
        cls, directory: pathlib.Path, name: str, connectors: int = 2, isolation: str = "thread"
    ) -> StationProcess:
        """With `isolation: process` it serves once its root does: its workers may still be starting."""
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "station.yaml"
        lines = [
            f"station:\n  name: {name}\n  state_dir: {directory / 'state'}\n  chaos: true",
            *([f"  isolation: {isolation}", "sim:\n  plant_linger_s: 2"] if isolation != "thread" else []),
            "api:\n  command_endpoint: tcp://127.0.0.1:*\n  publish_endpoint: tcp://127.0.0.1:*",
            "connectors:",
            *(
                f"  - evse_id: DE*TST*E{index:06d}\n    max_current_a: 32"
                for index in range(1, connectors + 1)
            ),
        ]
        config.write_text("\n".join(lines) + "\n")
        argv = [str(BIN / "evse-supervisor"), "run", "--config", str(config)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        station = cls(config, proc)
        station._wait_serving()
        return station

    def _wait_serving(self) -> None:
        """Read the log (in a thread, to the end) until the station says where it serves."""
        self.drainer = threading.Thread(target=self._drain, daemon=True)
        self.drainer.start()
        if not self.serving.wait(START_S) or not self.endpoint:
            self.stop()
            raise AssertionError(f"the station did not serve within {START_S} s: {self.log}")

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            if not self.serving.is_set() and (found := SERVING.search(line)):
                self.name, self.endpoint, self.publish_endpoint = found.groups()
                self.serving.set()
        self.serving.set()  # the station exited: no endpoints

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.drainer is not None:
            self.drainer.join(timeout=10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()

    def flags(self) -> list[str]:
        return ["--endpoint", self.endpoint, "--publish-endpoint", self.publish_endpoint]


def evsectl(
    *argv: str, env: dict[str, str] | None = None, timeout_s: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """The real `evsectl` in a subprocess; EVSECTL_* variables only as given in `env`."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("EVSECTL_")}
    return subprocess.run(
        [str(BIN / "evsectl"), *argv],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**base, **(env or {})},
    )
