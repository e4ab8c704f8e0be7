"""The configuration loader: the shipped files, overrides, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.settings import ConnectorSettings
from supervisor.config import (
    DEFAULT_CONFIG_NAME,
    ConfigError,
    apply_overrides,
    describe,
    load_config,
    parse_config,
)
from supervisor.config.settings import ApiSettings, SimSettings, StationSettings
from supervisor.tree import SupervisionSettings

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "config" / "examples" / "eight-connectors.yaml"
MINIMAL = ["connectors:", "  - evse_id: A"]


def _doc(*lines: str) -> str:
    """YAML text whose line n is ``lines[n - 1]``."""
    return "\n".join(lines) + "\n"


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "station.yaml")
    return info.value


EXPECTED_DEFAULT = StationSettings(
    name="demo",
    state_dir=Path("./state"),
    isolation="thread",
    chaos=False,
    supervision=SupervisionSettings(
        intensity=5, period_s=30, backoff_min_s=0.05, backoff_max_s=5, ping_interval_s=0.5, ping_timeout_s=1
    ),
    api=ApiSettings(
        command_endpoint="tcp://127.0.0.1:5555",
        publish_endpoint="tcp://127.0.0.1:5556",
        request_timeout_s=5,
        max_message_bytes=65536,
    ),
    connectors=tuple(
        ConnectorSettings(
            index=i,
            evse_id=f"DE*PNX*E123456*{i}",
            enabled_at_start=True,
            max_current_a=32,
            phases=3,
            phase_switching=True,
            lock=True,
            free_charging=False,
            require_accept_new_session=False,
            auth_timeout_s=60,
            telemetry_interval_s=1,
            meter_interval_s=1,
            board_driver="sim",
            meter_driver="sim",
        )
        for i in (1, 2)
    ),
    sim=SimSettings(time_scale=1),
)


def test_shipped_default_loads_as_the_spec_describes() -> None:
    settings = load_config(None)
    assert settings == EXPECTED_DEFAULT
    assert settings == load_config(REPO / "config" / DEFAULT_CONFIG_NAME)
    assert isinstance(settings.connectors[0].max_current_a, float)


def test_default_loads_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_config()
    assert [c.evse_id for c in settings.connectors] == ["DE*PNX*E123456*1", "DE*PNX*E123456*2"]
    assert settings.state_dir == Path("state")  # kept relative: resolved against the working directory


def test_eight_connector_example_loads_with_its_mix() -> None:
    settings = load_config(EXAMPLE)
    connectors = settings.connectors
    assert [c.index for c in connectors] == list(range(1, 9))
    assert len({c.evse_id for c in connectors}) == 8
    assert [c.phases for c in connectors].count(1) == 2
    assert all(not c.phase_switching for c in connectors if c.phases == 1)
    assert [c.free_charging for c in connectors].count(True) == 1
    assert [c.lock for c in connectors].count(False) == 1
    assert [c.require_accept_new_session for c in connectors].count(True) == 1
    assert len({c.max_current_a for c in connectors}) >= 4
    assert connectors[7].enabled_at_start is False
    assert connectors[7].telemetry_interval_s == 0.5
    assert connectors[7].meter_interval_s == 5
    assert settings.sim.time_scale == 60


def test_minimal_file_takes_the_defaults() -> None:
    settings = parse_config(_doc(*MINIMAL))
    assert settings == StationSettings(connectors=(ConnectorSettings(index=1, evse_id="A"),))


def test_one_phase_connector_defaults_to_no_phase_switching() -> None:
    settings = parse_config(_doc(*MINIMAL, "    phases: 1"))
    assert settings.connectors[0].phase_switching is False


def test_ipc_and_other_loopback_endpoints_are_accepted() -> None:
    settings = parse_config(
        _doc(
            "api:",
            "  command_endpoint: ipc:///tmp/evse-cmd",
            "  publish_endpoint: tcp://[::1]:6000",
            *MINIMAL,
        )
    )
    assert settings.api.command_endpoint == "ipc:///tmp/evse-cmd"
    assert settings.api.publish_endpoint == "tcp://[::1]:6000"
    localhost = parse_config(_doc("api:", "  command_endpoint: tcp://localhost:7000", *MINIMAL))
    assert localhost.api.command_endpoint == "tcp://localhost:7000"


def test_describe_names_every_connector_and_endpoint() -> None:
    text = describe(load_config(EXAMPLE))
    assert "8 connectors" in text
    assert "tcp://127.0.0.1:5565" in text
    for i in range(1, 9):
        assert f"connector {i} DE*PNX*E200001*{i}:" in text
    assert "fixed cable" in text
    assert "free charging" in text


def test_overrides_replace_the_files_values(tmp_path: Path) -> None:
    settings = apply_overrides(
        load_config(),
        command_endpoint="tcp://127.0.0.1:6001",
        publish_endpoint="ipc:///tmp/evse-pub",
        state_dir=tmp_path,
        isolation="thread",
        chaos=True,
    )
    assert settings.api.command_endpoint == "tcp://127.0.0.1:6001"
    assert settings.api.publish_endpoint == "ipc:///tmp/evse-pub"
    assert settings.state_dir == tmp_path
    assert settings.chaos is True
    assert settings.connectors == EXPECTED_DEFAULT.connectors


def test_no_overrides_change_nothing() -> None:
    assert apply_overrides(EXPECTED_DEFAULT) == EXPECTED_DEFAULT


def test_process_isolation_is_refused_with_what_it_cannot_run_yet() -> None:
    with_ocpp = parse_config(_doc("ocpp: {url: 'ws://127.0.0.1:9000', charge_point_id: CP1}", *MINIMAL))
    with pytest.raises(ConfigError) as info:
        apply_overrides(with_ocpp, isolation="process")
    assert info.value.key == "--isolation"
    assert "process isolation does not support an ocpp section yet" in str(info.value)
    settings = apply_overrides(EXPECTED_DEFAULT, isolation="process")
    assert settings.isolation == "process" and settings.workers.connectors_per_worker == 1


def test_worker_settings_are_read() -> None:
    text = _doc(
        "station:",
        "  isolation: process",
        "  connectors_per_worker: 2",
        "  worker_start_timeout_s: 4",
        "  max_worker_rss_mb: 300",
        *MINIMAL,
    )
    workers = parse_config(text).workers
    assert (workers.connectors_per_worker, workers.start_timeout_s, workers.max_rss_mb) == (2, 4.0, 300)


@pytest.mark.parametrize(
    ("flags", "key", "fragment"),
    [
        ({"command_endpoint": "tcp://0.0.0.0:5555"}, "--command-endpoint", "beyond loopback requires CURVE"),
        ({"publish_endpoint": "udp://127.0.0.1:1"}, "--publish-endpoint", "must be tcp://127.0.0.1:<port>"),
        ({"command_endpoint": "tcp://127.0.0.1:5556"}, "--command-endpoint", "must differ"),
        ({"isolation": "fork"}, "--isolation", "must be thread or process, got 'fork'"),
    ],
)
def test_bad_overrides_name_the_flag(flags: dict[str, str], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(EXPECTED_DEFAULT, **flags)  # type: ignore[arg-type]
    assert info.value.key == key
    assert info.value.line is None
    assert str(info.value).startswith(f"{key}: ")
    assert fragment in str(info.value)


BAD_FILES = [
    pytest.param(
        _doc(*MINIMAL, "    lock: 'yes'"),
        "connectors[0].lock",
        3,
        "must be true or false, got 'yes'",
        id="wrong-type",
    ),
    pytest.param(
        _doc(*MINIMAL, "    lock: yes"),
        "connectors[0].lock",
        3,
        "must be true or false",
        id="yaml11-bool-word",
    ),
    pytest.param(
        _doc("colour: red", *MINIMAL),
        "colour",
        1,
        "unknown key 'colour'; allowed: station, api, connectors, sim",
        id="unknown-top-level-key",
    ),
    pytest.param(
        _doc("station:", "  supervision:", "    intensity: 3", "    restarts: 4", *MINIMAL),
        "station.supervision.restarts",
        4,
        "unknown key 'restarts'; allowed: intensity, period_s",
        id="unknown-nested-key",
    ),
    pytest.param(
        _doc(*MINIMAL, "    board: {driver: sim, rate_hz: 2}"),
        "connectors[0].board.rate_hz",
        3,
        "unknown key 'rate_hz'; allowed: driver, model, endpoint",
        id="unknown-key-in-connector-board",
    ),
    pytest.param(
        _doc("station:", "  name: x"),
        "connectors",
        1,
        "missing required key 'connectors'",
        id="missing-connectors",
    ),
    pytest.param(
        _doc(*MINIMAL, "  - max_current_a: 16"),
        "connectors[1].evse_id",
        3,
        "missing required key 'evse_id'",
        id="missing-evse-id",
    ),
    pytest.param(
        _doc(*MINIMAL, "  - evse_id: B", "  - evse_id: A"),
        "connectors[2].evse_id",
        4,
        "duplicate evse_id 'A', already used by connectors[0]",
        id="duplicate-evse-id",
    ),
    pytest.param(
        _doc(*MINIMAL, "  - evse_id: 'DE 1'"),
        "connectors[1].evse_id",
        3,
        "must be a non-empty string without spaces, got 'DE 1'",
        id="evse-id-with-space",
    ),
    pytest.param(
        _doc(*MINIMAL, "  - evse_id: B", "    max_current_a: 32A"),
        "connectors[1].max_current_a",
        4,
        "must be a number from 6 to 80, got '32A'",
        id="current-with-unit",
    ),
    pytest.param(
        _doc(*MINIMAL, "    max_current_a: 100"),
        "connectors[0].max_current_a",
        3,
        "must be a number from 6 to 80, got 100",
        id="current-too-high",
    ),
    pytest.param(
        _doc(*MINIMAL, "    max_current_a: true"),
        "connectors[0].max_current_a",
        3,
        "must be a number from 6 to 80, got true",
        id="bool-as-number",
    ),
    pytest.param(
        _doc(*MINIMAL, "    phases: 2"), "connectors[0].phases", 3, "must be 1 or 3, got 2", id="phases-2"
    ),
    pytest.param(
        _doc(*MINIMAL, "    phases: 1", "    phase_switching: true"),
        "connectors[0].phase_switching",
        4,
        "requires phases: 3, got phases: 1",
        id="phase-switching-on-one-phase",
    ),
    pytest.param(
        _doc(*MINIMAL, "    auth_timeout_s: 0"),
        "connectors[0].auth_timeout_s",
        3,
        "must be a number greater than 0 and at most 3600, got 0",
        id="auth-timeout-zero",
    ),
    pytest.param(
        _doc(*MINIMAL, "    meter: {interval_s: 0.01}"),
        "connectors[0].meter.interval_s",
        3,
        "must be a number from 0.05 to 3600, got 0.01",
        id="meter-interval-too-short",
    ),
    pytest.param(
        _doc(*MINIMAL, "    board:", "      driver: canbus"),
        "connectors[0].board.driver",
        4,
        "unknown driver 'canbus', known: sim, modbus",
        id="unknown-driver",
    ),
    pytest.param(
        _doc(*MINIMAL, "    lock: [true", "sim:", "  time_scale: 1"),
        "",
        4,
        "invalid YAML: while parsing a flow sequence",
        id="broken-yaml",
    ),
    pytest.param(
        _doc(*MINIMAL, "   max_current_a: 16"),
        "",
        3,
        "invalid YAML: while parsing a block collection, expected <block end>",
        id="bad-indentation",
    ),
    pytest.param(
        _doc("api:", "  command_endpoint: http://127.0.0.1:5555", *MINIMAL),
        "api.command_endpoint",
        2,
        "must be tcp://127.0.0.1:<port>, tcp://localhost:<port>, tcp://[::1]:<port> or ipc://<path>",
        id="bad-endpoint-scheme",
    ),
    pytest.param(
        _doc("api:", "  command_endpoint: tcp://127.0.0.1:70000", *MINIMAL),
        "api.command_endpoint",
        2,
        "port must be from 0 to 65535, got 70000",
        id="bad-endpoint-port",
    ),
    pytest.param(
        _doc("api:", "  publish_endpoint: tcp://0.0.0.0:5556", *MINIMAL),
        "api.publish_endpoint",
        2,
        "binding beyond loopback requires CURVE security, which is not built yet; got 'tcp://0.0.0.0:5556'",
        id="all-interfaces-endpoint",
    ),
    pytest.param(
        _doc("api:", "  command_endpoint: 'tcp://*:5555'", *MINIMAL),
        "api.command_endpoint",
        2,
        "requires CURVE security, which is not built yet",
        id="star-endpoint",
    ),
    pytest.param(
        _doc("api:", "  command_endpoint: tcp://192.168.1.2:5555", *MINIMAL),
        "api.command_endpoint",
        2,
        "requires CURVE security, which is not built yet",
        id="lan-endpoint",
    ),
    pytest.param(
        _doc(
            "api:",
            "  command_endpoint: tcp://127.0.0.1:6000",
            "  publish_endpoint: tcp://127.0.0.1:6000",
            *MINIMAL,
        ),
        "api.publish_endpoint",
        3,
        "must differ from command_endpoint, both are 'tcp://127.0.0.1:6000'",
        id="same-endpoint-twice",
    ),
    pytest.param(
        _doc("api:", "  curve: {server_secret_key: server.key, authorized_clients: clients}", *MINIMAL),
        "api.curve",
        2,
        "curve: CURVE security is not built yet",
        id="curve",
    ),
    pytest.param(
        _doc("station:", "  isolation: process", "  grid: {max_current_a: 32}", *MINIMAL),
        "station.isolation",
        2,
        "process isolation does not support station.grid.max_current_a yet; use isolation: thread",
        id="isolation-process-grid",
    ),
    pytest.param(
        _doc("station:", "  isolation: process", "sim: {plant: embedded}", *MINIMAL),
        "station.isolation",
        2,
        "sim.plant: embedded cannot run with workers: the simulated hardware would live in the root, "
        "out of the workers' reach, and must outlive a worker; use sim.plant: process (the default) "
        "or isolation: thread",
        id="isolation-process-embedded-plant",
    ),
    pytest.param(
        _doc("station:", "  isolation: process", "connectors:", *(f"  - evse_id: E{n}" for n in range(65))),
        "station.connectors_per_worker",
        2,
        "65 connectors at 1 per worker make 65 workers, at most 64: raise station.connectors_per_worker",
        id="isolation-process-too-many-workers",
    ),
    pytest.param(
        _doc("station:", "  isolation: container", *MINIMAL),
        "station.isolation",
        2,
        "must be thread or process, got 'container'",
        id="isolation-unknown",
    ),
    pytest.param(
        _doc(*MINIMAL, "    phases: 3", "    phases: 1"),
        "connectors[0].phases",
        4,
        "duplicate key 'phases' (first on line 3)",
        id="duplicate-yaml-key",
    ),
    pytest.param("", "", 1, "the file is empty", id="empty-file"),
    pytest.param(_doc("# nothing but", "# comments"), "", 1, "the file is empty", id="comments-only"),
    pytest.param(_doc("- evse_id: A"), "", 1, "the top level must be a map", id="top-level-list"),
    pytest.param(
        _doc("connectors: []"),
        "connectors",
        1,
        "must be a list of 1 to 1000 connectors, got 0 entries",
        id="no-connectors",
    ),
    pytest.param(
        _doc("connectors:", "  evse_id: A"),
        "connectors",
        2,
        "must be a list of 1 to 1000 connectors",
        id="connectors-map",
    ),
    pytest.param(
        _doc("station:", "  supervision:", "    intensity: 2.5", *MINIMAL),
        "station.supervision.intensity",
        3,
        "must be a whole number from 0 to 10000, got 2.5",
        id="intensity-not-whole",
    ),
    pytest.param(
        _doc("station:", "  supervision:", "    backoff_min_s: 2", "    backoff_max_s: 1", *MINIMAL),
        "station.supervision.backoff_max_s",
        4,
        "must be at least backoff_min_s (2), got 1",
        id="backoff-max-below-min",
    ),
    pytest.param(
        _doc("api:", "  max_message_bytes: 100", *MINIMAL),
        "api.max_message_bytes",
        2,
        "must be a whole number from 1024 to 16777216, got 100",
        id="max-message-too-small",
    ),
    pytest.param(
        _doc(*MINIMAL, "sim:", "  time_scale: .inf"),
        "sim.time_scale",
        4,
        "must be a number greater than 0 and at most 10000, got .inf",
        id="time-scale-infinite",
    ),
    pytest.param(
        _doc("station: [a]", *MINIMAL),
        "station",
        1,
        "must be a map with keys name, state_dir",
        id="section-not-map",
    ),
]


@pytest.mark.parametrize(("text", "key", "line", "fragment"), BAD_FILES)
def test_malformed_file_names_key_line_and_problem(text: str, key: str, line: int, fragment: str) -> None:
    error = _error(text)
    assert (error.path, error.key, error.line) == ("station.yaml", key, line)
    assert fragment in str(error)
    prefix = f"station.yaml:{line}: {key}: " if key else f"station.yaml:{line}: "
    assert str(error).startswith(prefix)


def test_error_reads_like_the_spec_example() -> None:
    error = _error(_doc(*MINIMAL, "  - evse_id: B", "    max_current_a: 32A"))
    assert (
        str(error) == "station.yaml:4: connectors[1].max_current_a: must be a number from 6 to 80, got '32A'"
    )


def test_more_than_1000_connectors_are_refused() -> None:
    lines = ["connectors:"] + [f"  - evse_id: E{i}" for i in range(1001)]
    error = _error(_doc(*lines))
    assert (error.key, error.line) == ("connectors", 2)
    assert "must be a list of 1 to 1000 connectors, got 1001 entries" in str(error)


def test_a_thousand_connectors_are_accepted() -> None:
    lines = ["connectors:"] + [f"  - evse_id: E{i}" for i in range(1000)]
    settings = parse_config(_doc(*lines), "station.yaml")
    assert [c.index for c in settings.connectors] == list(range(1, 1001))


def test_load_config_names_the_file_it_was_given(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(_doc(*MINIMAL, "    phases: 2"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:3: connectors[0].phases: must be 1 or 3, got 2"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yaml")
    assert info.value.line is None
    assert "cannot read the file" in str(info.value)
