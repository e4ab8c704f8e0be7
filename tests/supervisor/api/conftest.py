"""The API tests' live stations: the real station and API server in this process, chaos allowed."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from supervisor.client import Client
from supervisor.config import load_config
from supervisor.config.settings import StationSettings
from tests.live import WAIT_S, LiveStation, in_processes, live_settings


class ApiStation(LiveStation):
    """A live station whose clients never retry: a test sees each reply the station gives."""

    def client(self, **options: Any) -> Client:
        return super().client(timeout_s=WAIT_S, retries=0, **options)


ISOLATIONS = ("thread", "process")  # every API test runs against both: clients see no difference


def _isolated(settings: StationSettings, isolation: str) -> StationSettings:
    return in_processes(settings) if isolation == "process" else settings


@pytest.fixture(params=ISOLATIONS)
def api(tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[ApiStation]:
    """Fast supervision (a hang is found within half a second)."""
    station = ApiStation(_isolated(live_settings(tmp_path), request.param), subscribe=False)
    yield station
    station.close()


@pytest.fixture(params=ISOLATIONS)
def running(tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[ApiStation]:
    """The default supervision limits (an actor busy under 1 s is slow, not hung)."""
    settings = live_settings(tmp_path, supervision=load_config(None).supervision)
    station = ApiStation(_isolated(settings, request.param), subscribe=False)
    yield station
    station.close()
