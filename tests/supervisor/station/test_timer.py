"""The station's one timer: each key fires once its armed time has come; arming again replaces it."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

from drivers.clock import SystemClock
from supervisor.station.timer import ConnectorTimer, Key, StationTimer

WAIT_S = 5.0


@pytest.fixture
def fired() -> queue.SimpleQueue[Key]:
    return queue.SimpleQueue()


@pytest.fixture
def timer(fired: queue.SimpleQueue[Key]) -> Iterator[StationTimer]:
    station_timer = StationTimer(SystemClock(), fired.put)
    yield station_timer
    station_timer.stop()


def test_a_key_fires_once_at_its_time_and_rearming_replaces_it(
    timer: StationTimer, fired: queue.SimpleQueue[Key]
) -> None:
    timer.start()
    now = time.monotonic()
    timer.arm((1, "meter"), now + 60.0)
    timer.arm((1, "meter"), now + 0.01)  # replaces the first
    timer.arm((2, "hardware"), now + 0.02)
    assert {fired.get(timeout=WAIT_S), fired.get(timeout=WAIT_S)} == {(1, "meter"), (2, "hardware")}
    assert timer.armed((1, "meter")) is None  # fired and gone until armed again
    with pytest.raises(queue.Empty):
        fired.get(timeout=0.1)


def test_a_disarmed_key_never_fires_and_keys_armed_before_start_do(
    timer: StationTimer, fired: queue.SimpleQueue[Key]
) -> None:
    connector = ConnectorTimer(timer, 3)
    now = time.monotonic()
    connector.arm("session", now)
    connector.arm("reservation", now)
    connector.arm("reservation", None)
    timer.start()
    assert fired.get(timeout=WAIT_S) == (3, "session")
    with pytest.raises(queue.Empty):
        fired.get(timeout=0.1)


def test_a_failing_fire_does_not_stop_the_timer(fired: queue.SimpleQueue[Key]) -> None:
    def fire(key: Key) -> None:
        if key[0] == 1:
            raise RuntimeError("a broken connector")
        fired.put(key)

    timer = StationTimer(SystemClock(), fire)
    timer.start()
    try:
        now = time.monotonic()
        timer.arm((1, "meter"), now)
        timer.arm((2, "meter"), now + 0.01)
        assert fired.get(timeout=WAIT_S) == (2, "meter")
    finally:
        timer.stop()
