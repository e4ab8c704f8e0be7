"""A live station with the operations parts the command line wires: event log, metrics, reload."""

from __future__ import annotations

import dataclasses
import io
import logging
import pathlib
from collections.abc import Iterator

import pytest
import zmq

from supervisor.api import ApiServer
from supervisor.client import Client
from supervisor.config import load_config
from supervisor.config.settings import StationSettings
from supervisor.ops import EventLog, LogSetup, Reloader, RequestRecorder, StationMetrics, configure_logging
from supervisor.station import Station
from tests.live import FAST_SUPERVISION, Subscriber, embedded

STATION_YAML = """\
station:
  name: ops
  log_level: INFO
  chaos: true
  supervision: {{intensity: 50, period_s: 30, backoff_min_s: 0.01, backoff_max_s: 0.1,
                ping_interval_s: 0.1, ping_timeout_s: 0.4}}
api:
  command_endpoint: tcp://127.0.0.1:*
  publish_endpoint: tcp://127.0.0.1:*
connectors:
  - {{evse_id: "DE*OPS*E1", free_charging: {free_1}, auth_timeout_s: 60}}
  - {{evse_id: "DE*OPS*E2", max_current_a: {max_2}}}
"""


def station_yaml(free_1: bool = False, max_2: int = 32) -> str:
    return STATION_YAML.format(free_1=str(free_1).lower(), max_2=max_2)


@pytest.fixture
def logs() -> Iterator[tuple[LogSetup, io.StringIO]]:
    """The root logger on a string for the test; the previous handlers back afterwards."""
    root = logging.getLogger()
    level = root.level
    out = io.StringIO()
    setup = configure_logging("INFO", "text", stream=out)
    yield setup, out
    setup.close()
    root.setLevel(level)


class OpsStation:
    """Station, API server, event log, metrics and reloader as `evse-supervisor run` wires them."""

    def __init__(self, config: pathlib.Path, state_dir: pathlib.Path, logs: LogSetup) -> None:
        self.config = config
        self.state_dir = state_dir
        settings = self.load()
        assert settings.supervision == FAST_SUPERVISION
        self.station = Station.build(settings)
        evse_ids = {c.index: c.settings.evse_id for c in self.station.connectors}
        self.metrics = StationMetrics(
            self.station, {c.index: c.settings.evse_id for c in self.station.connectors}
        )
        self.station.bus.observe(EventLog(evse_ids))
        self.station.bus.observe(self.metrics.publication)
        self.reloader = Reloader(self.load, settings, self.station, logs)
        self.server = ApiServer(
            settings.api,
            self.station,
            observer=RequestRecorder(evse_ids, self.metrics),
            station_hooks={"reload": self.reloader.reload},
        )
        self.station.start()
        self.server.start()
        self.client = Client(self.server.command_endpoint, self.server.publish_endpoint, timeout_s=5)
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.subscriber = Subscriber(self.context, self.server.publish_endpoint)
        self.subscriber.wait_for("station/heartbeat", lambda v: True, 5.0)

    def load(self) -> StationSettings:
        return dataclasses.replace(embedded(load_config(self.config)), state_dir=self.state_dir)

    def close(self) -> None:
        self.client.close()
        self.subscriber.close()
        self.context.destroy(linger=0)
        self.metrics.stop()
        self.server.stop()
        self.station.stop()


@pytest.fixture
def ops_station(tmp_path: pathlib.Path, logs: tuple[LogSetup, io.StringIO]) -> Iterator[OpsStation]:
    config = tmp_path / "station.yaml"
    config.write_text(station_yaml())
    live = OpsStation(config, tmp_path / "state", logs[0])
    yield live
    live.close()
