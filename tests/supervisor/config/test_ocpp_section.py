"""The `ocpp:` section: the shipped example, defaults, and errors that name the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.config import ConfigError, describe, load_config, parse_config
from supervisor.config.ocpp import OcppSettings

REPO = Path(__file__).resolve().parents[3]
MINIMAL = "connectors:\n  - evse_id: A\n"


def test_the_example_loads_as_documented() -> None:
    settings = load_config(REPO / "config" / "examples" / "ocpp-station.yaml")
    assert settings.ocpp == OcppSettings(url="ws://127.0.0.1:9000", charge_point_id="CP-DEMO-1")
    assert settings.ocpp.endpoint == "ws://127.0.0.1:9000/CP-DEMO-1"
    assert "ocpp: charge point CP-DEMO-1 of ws://127.0.0.1:9000/CP-DEMO-1" in describe(settings)


def test_without_the_section_there_is_no_central_system() -> None:
    assert parse_config(MINIMAL).ocpp is None


def test_the_retry_keys_can_be_set() -> None:
    text = MINIMAL + (
        "ocpp:\n  url: wss://cs.example/ocpp/\n  charge_point_id: CP-2\n  basic_auth_password: secret\n"
        "  transaction_message_attempts: 5\n  transaction_message_retry_interval_s: 0.5\n"
    )
    ocpp = parse_config(text).ocpp
    assert ocpp is not None
    assert (ocpp.transaction_message_attempts, ocpp.transaction_message_retry_interval_s) == (5, 0.5)
    assert (ocpp.basic_auth_password, ocpp.endpoint) == ("secret", "wss://cs.example/ocpp/CP-2")


@pytest.mark.parametrize(
    ("section", "key", "fragment"),
    [
        ("  url: http://cs\n  charge_point_id: CP\n", "ocpp.url", "ws:// or wss://"),
        ("  charge_point_id: CP\n", "ocpp.url", "missing required key"),
        ("  url: ws://cs\n", "ocpp.charge_point_id", "missing required key"),
        ("  url: ws://cs\n  charge_point_id: C P\n", "ocpp.charge_point_id", "without spaces"),
        ('  url: ws://cs\n  charge_point_id: CP\n  version: "2.0.1"\n', "ocpp.version", '"1.6"'),
        (
            "  url: ws://cs\n  charge_point_id: CP\n  free_id_tag: " + "F" * 21 + "\n",
            "ocpp.free_id_tag",
            "20",
        ),
        ("  url: ws://cs\n  charge_point_id: CP\n  transaction_message_attempts: 0\n", "", "from 1"),
        ("  url: ws://cs\n  charge_point_id: CP\n  heartbeat: 5\n", "ocpp.heartbeat", "unknown key"),
    ],
)
def test_a_bad_section_names_the_key_and_line(section: str, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(MINIMAL + "ocpp:\n" + section, "station.yaml")
    assert raised.value.key.startswith(key) and fragment in raised.value.message
    assert raised.value.line is not None and raised.value.line >= 3
