"""`evse-supervisor plant` in a subprocess, and a station's link to it, for the plant's tests."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
from typing import Any

from drivers.base import BoardCapabilities
from drivers.sim import plant_wire as wire
from drivers.sim.remote import PlantLink
from supervisor.plant.launch import call
from tests.supervisor.cli.running import wait_until as eventually

BIN = pathlib.Path(sys.executable).parent
STATION = str(BIN / "evse-supervisor")
WAIT_S = 15.0
CAPS = BoardCapabilities(max_current_a=32, phases=3, phase_switching=True, lock=True)

CONFIG = """
station:
  state_dir: {state_dir}
connectors:
  - evse_id: DE*PNX*E1*1
  - evse_id: DE*PNX*E1*2
sim:
  time_scale: {time_scale}
"""


class PlantProcess:
    """A plant on `state_dir` for the two connectors of `CONFIG`; `stop()` or `kill()` ends it."""

    def __init__(self, state_dir: pathlib.Path, *flags: str, time_scale: float = 1.0) -> None:
        self.state_dir = state_dir
        config = state_dir.parent / f"{state_dir.name}.yaml"
        config.write_text(CONFIG.format(state_dir=state_dir, time_scale=time_scale))
        self.proc = subprocess.Popen(
            [STATION, "plant", "--config", str(config), *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.endpoint = wire.public_endpoint(state_dir)
        self.info = eventually(lambda: self.ping(0.2) or self.proc.poll() is not None, "the plant answering")
        assert self.proc.poll() is None, self.output()

    def ping(self, timeout_s: float = 2.0) -> dict[str, Any] | None:
        found: dict[str, Any] | None = call(self.endpoint, "ping", timeout_s)
        return found

    def request(self, cmd: str, timeout_s: float = 5.0, **fields: Any) -> Any:
        return call(self.endpoint, cmd, timeout_s, **fields)

    def link(self, timeout_s: float = 0.5) -> PlantLink:
        link = PlantLink(wire.drivers_endpoint(self.state_dir), timeout_s)
        link.wait_connected(WAIT_S)
        return link

    def output(self) -> str:
        """What the plant wrote to its own stdout and stderr (it should write nothing there)."""
        out, err = self.proc.communicate(timeout=WAIT_S)
        return (out + err).decode()

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(WAIT_S)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


def attach(link: PlantLink, evse_id: str = "DE*PNX*E1*1", index: int = 1) -> None:
    link.attach(evse_id, index=index, capabilities=CAPS, meter_id=f"SIM-{evse_id}", time_scale=1.0)
