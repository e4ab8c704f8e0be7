"""A station on its plant process: idle connectors publish telemetry and meter readings from the
plant's own reports, with no request to the plant (the hardware is pushed, not polled)."""

from __future__ import annotations

import dataclasses
import pathlib
import threading
from collections import Counter
from typing import Any

from supervisor.config import load_config
from supervisor.station import Station
from tests.supervisor.cli.running import wait_until


class Counting:
    """How many times each connector variable was published."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.counts[topic] += 1

    def at_least(self, times: int) -> bool:
        topics = [f"evse/{i}/{v}" for i in (1, 2) for v in ("telemetry", "powermeter")]
        with self._lock:
            return all(self.counts[topic] >= times for topic in topics)


def test_idle_connectors_publish_what_the_plant_reports_without_asking_it(tmp_path: pathlib.Path) -> None:
    settings = dataclasses.replace(load_config(None), state_dir=tmp_path)
    station = Station.build(settings)
    link = station.hardware.link
    assert link is not None, "the default config runs the plant in a process of its own"
    counting = Counting()
    station.bus.attach(counting)
    station.start()
    try:
        wait_until(lambda: counting.at_least(2), "two publications of each connector's variables")
        calls = link.calls
        counted = counting.counts.copy()
        wait_until(
            lambda: all(
                counting.counts[t] >= n + 3 for t, n in counted.items() if "/power" in t or "/tele" in t
            ),
            "three more",
        )
        assert link.calls == calls
    finally:
        station.stop()
