"""A real station in a subprocess for evsectl's tests."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tests.supervisor.client.stations import StationProcess


@pytest.fixture
def station(tmp_path: pathlib.Path) -> Iterator[StationProcess]:
    running = StationProcess.start(tmp_path / "north", "depot-north")
    yield running
    running.stop()
