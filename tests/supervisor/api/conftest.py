"""The API tests' live stations: the real station and API server in this process, chaos allowed."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from supervisor.client import Client
from supervisor.config import load_config
from tests.live import WAIT_S, LiveStation, live_settings


class ApiStation(LiveStation):
    """A live station whose clients never retry: a test sees each reply the station gives."""

    def client(self, **options: Any) -> Client:
        return super().client(timeout_s=WAIT_S, retries=0, **options)


@pytest.fixture
def api(tmp_path: pathlib.Path) -> Iterator[ApiStation]:
    """Fast supervision (a hang is found within half a second)."""
    station = ApiStation(live_settings(tmp_path), subscribe=False)
    yield station
    station.close()


@pytest.fixture
def running(tmp_path: pathlib.Path) -> Iterator[ApiStation]:
    """The default supervision limits (an actor busy under 1 s is slow, not hung)."""
    station = ApiStation(live_settings(tmp_path, supervision=load_config(None).supervision), subscribe=False)
    yield station
    station.close()
