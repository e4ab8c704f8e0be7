"""Device models and Modbus devices in the config: every mistake named with its file, line and key."""

from __future__ import annotations

import pathlib

import pytest

from drivers.modbus import parse_endpoint
from supervisor.config import ConfigError, parse_config
from supervisor.config.devices import load_model, parse_model, shipped_models

MODBUS_BOARD = """\
connectors:
  - evse_id: DE*TST*E1
    board: {driver: modbus, model: MODEL, endpoint: "tcp://127.0.0.1:1502", timeout_s: 0.2}
"""
GOOD_MODEL = """\
model: my_controller
board:
  cp_state: {address: 10, type: uint16, values: {1: A, 2: B, 3: C}}
  current_limit_a: {address: 20}
"""


def station_error(text: str, source: str = "station.yaml") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source)
    return caught.value


def model_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_model(text, "my_model.yaml", "my_model")
    return caught.value


def test_every_shipped_model_loads_with_the_values_its_contract_needs() -> None:
    assert shipped_models() == ["bender_cc613", "eastron_sdm630", "phoenix_charx"]
    sdm630, bender, charx = (load_model(n) for n in ("eastron_sdm630", "bender_cc613", "phoenix_charx"))
    assert sdm630.meter["energy_import_wh"].address == 72 and sdm630.meter["energy_import_wh"].scale == 1000
    assert bender.board["cp_state"].meaning(4) == "D" and bender.unit == 255
    assert charx.connector_offset == 1000 and charx.board["cp_state"].type == "ascii"


def test_an_unknown_model_is_named_on_the_station_line() -> None:
    error = station_error(MODBUS_BOARD.replace("MODEL", "abb_terra"))
    assert (error.path, error.line, error.key) == ("station.yaml", 3, "connectors[0].board.model")
    assert "unknown model 'abb_terra'" in error.message and "bender_cc613" in error.message


def test_a_model_file_of_the_users_own_is_read_beside_the_station_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "mine.yaml").write_text(GOOD_MODEL)
    station = tmp_path / "station.yaml"
    settings = parse_config(MODBUS_BOARD.replace("MODEL", "mine.yaml"), str(station))
    device = settings.connectors[0].board_device
    assert device is not None and device.model.name == "my_controller"
    assert settings.connectors[0].lock is False and settings.connectors[0].phase_switching is False


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        (
            GOOD_MODEL.replace("type: uint16, values", "type: uint12, values"),
            3,
            "board.cp_state.type",
            "must be one of uint16, int16, uint32, int32, int64, float32, ascii, got 'uint12'",
        ),
        (
            GOOD_MODEL.replace("  current_limit_a: {address: 20}\n", ""),
            3,
            "board.current_limit_a",
            "missing current_limit_a",
        ),
        (
            GOOD_MODEL.replace("3: C", "3: X"),
            3,
            "board.cp_state.values",
            "must map a raw value to one of A, B",
        ),
        (
            GOOD_MODEL.replace("{address: 20}", "{address: 20, type: float32}"),
            4,
            "board.current_limit_a.type",
            "is written: it must be a holding register of type uint16 or int16",
        ),
        (
            GOOD_MODEL.replace("{address: 20}", "{adress: 20}"),
            4,
            "board.current_limit_a.adress",
            "unknown key",
        ),
        (
            GOOD_MODEL.replace("{address: 20}", "{type: uint16}"),
            4,
            "board.current_limit_a.address",
            "missing required key 'address'",
        ),
        (GOOD_MODEL.replace("board:", "bord:"), 2, "bord", "unknown key 'bord'"),
        (
            GOOD_MODEL + "meter:\n  energy_import_wh: {address: 0}\n  currents_a: {address: 5, count: 2}\n",
            7,
            "meter.currents_a.count",
            "currents_a has 3 item(s), got count 2",
        ),
    ],
)
def test_a_model_files_problem_is_named_with_its_file_line_and_key(
    text: str, line: int, key: str, fragment: str
) -> None:
    error = model_error(text)
    assert (error.path, error.line, error.key) == ("my_model.yaml", line, key)
    assert fragment in error.message


def test_a_capability_the_board_lacks_is_refused_naming_the_key() -> None:
    text = MODBUS_BOARD.replace("MODEL", "bender_cc613") + "    phase_switching: true\n"
    error = station_error(text)
    assert (error.line, error.key) == (4, "connectors[0].phase_switching")
    assert "cannot do this" in error.message


def test_modbus_keys_need_the_modbus_driver_and_an_endpoint() -> None:
    error = station_error("connectors:\n  - evse_id: E1\n    meter: {driver: sim, unit: 3}\n")
    assert error.key == "connectors[0].meter.unit" and "only with driver: modbus" in error.message
    error = station_error(
        "connectors:\n  - evse_id: E1\n    meter: {driver: modbus, model: eastron_sdm630}\n"
    )
    assert error.key == "connectors[0].meter.endpoint" and "missing required key" in error.message
    error = station_error(MODBUS_BOARD.replace("MODEL", "eastron_sdm630"))
    assert error.key == "connectors[0].board.model" and "has no board registers" in error.message


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("udp://10.0.0.1:502", "unknown Modbus endpoint"),
        ("tcp://10.0.0.1", "bad Modbus endpoint"),
        ("tcp://10.0.0.1:99999", "bad port"),
        ("rtu:///dev/ttyUSB0?baudrate=1234", "baudrate must be one of"),
        ("rtu:///dev/ttyUSB0?parity=X", "parity must be one of"),
        ("rtu:///dev/ttyUSB0?speed=9600", "unknown option 'speed'"),
    ],
)
def test_a_bad_endpoint_says_what_is_allowed(url: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_endpoint(url)
    error = station_error(MODBUS_BOARD.replace("MODEL", "bender_cc613").replace("tcp://127.0.0.1:1502", url))
    assert error.key == "connectors[0].board.endpoint" and fragment in error.message


def test_the_three_transports_parse() -> None:
    assert parse_endpoint("tcp://10.0.0.5:502").framing == "tcp"
    gateway = parse_endpoint("rtu+tcp://10.0.0.6:4001")
    assert (gateway.framing, gateway.host, gateway.port, gateway.serial) == ("rtu", "10.0.0.6", 4001, False)
    serial = parse_endpoint("rtu:///dev/ttyUSB0?baudrate=19200&parity=E")
    assert (serial.device, serial.baudrate, serial.parity, serial.stopbits) == ("/dev/ttyUSB0", 19200, "E", 1)


def test_the_example_modbus_station_checks() -> None:
    example = pathlib.Path(__file__).resolve().parents[3] / "config" / "examples" / "modbus-station.yaml"
    settings = parse_config(example.read_text(), str(example))
    boards = [c.board_device.model.name for c in settings.connectors if c.board_device is not None]
    meters = [c.meter_device for c in settings.connectors if c.meter_device is not None]
    assert boards == ["phoenix_charx", "bender_cc613"]
    assert [(m.model.name, m.endpoint.framing, m.unit) for m in meters] == [
        ("eastron_sdm630", "rtu", 1),
        ("eastron_sdm630", "rtu", 2),
    ]
