"""`evse-supervisor probe`: every value of each configured device read once and printed."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from drivers.clock import SystemClock
from supervisor.cli.main import main
from supervisor.config.devices import load_model
from tests.drivers.modbus.devices import Site

CONFIG = """\
connectors:
  - evse_id: DE*TST*E1
    board: {{driver: modbus, model: bender_cc613, endpoint: "{board}", timeout_s: 0.2}}
    meter: {{driver: modbus, model: eastron_sdm630, endpoint: "{meter}", unit: 7, timeout_s: 0.2}}
  - evse_id: DE*TST*E2
"""


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site(SystemClock())
    site.serve(load_model("bender_cc613"), ("board",))
    site.serve(load_model("eastron_sdm630"), ("meter",), unit=7, framing="rtu")
    site.car.plugged = True
    site.written("current_limit_a", 16.0)
    yield site
    site.stop()


@pytest.fixture
def config(tmp_path: pathlib.Path, site: Site) -> pathlib.Path:
    path = tmp_path / "station.yaml"
    path.write_text(CONFIG.format(board=site.servers[0].endpoint, meter=site.servers[1].endpoint))
    return path


def test_probe_prints_every_value_of_every_device(
    config: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "board: bender_cc613 at tcp://" in out and "meter: eastron_sdm630 at rtu+tcp://" in out
    assert "cp_state           @122    3 = C" in out
    assert "relay_state        @140    1 = three_phases" in out
    assert "current_limit_a    @1000   16  (raw 16)" in out
    assert "currents_a         @212    16, 16, 16  (raw 16000, 16000, 16000)" in out
    assert "voltages_v         @0      230, 230, 230" in out
    assert "energy_import_wh   @72" in out
    assert "connector 2 DE*TST*E2\n  board: sim (simulated, nothing to probe)" in out


def test_probe_of_one_connector_and_of_a_device_that_does_not_answer(
    config: pathlib.Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.servers[1].stop()
    assert main(["probe", "--config", str(config), "--evse", "1"]) == 1
    out = capsys.readouterr().out
    assert "cp_state           @122    3 = C" in out
    assert "energy_import_wh   @72     not read:" in out
    assert "connector 2" not in out
    assert main(["probe", "--config", str(config), "--evse", "3"]) == 1
    assert "no connector 3" in capsys.readouterr().out
