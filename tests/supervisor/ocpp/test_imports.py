"""supervisor.ocpp imports alone, in a fresh interpreter: no import cycle through the API or the station."""

from __future__ import annotations

import subprocess
import sys


def test_the_bridge_imports_first_in_a_fresh_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import supervisor.ocpp.status, supervisor.station"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
