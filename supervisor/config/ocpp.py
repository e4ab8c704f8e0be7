"""The `ocpp:` section (spec/ocpp.md): the central system the station talks to as a charge point.

Without the section the station runs without a central system. Each key defaults to the
spec's value; the retry and timeout keys are here so that tests (and slow links) can set them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from supervisor.config.yaml_reader import POSITIVE, Map, Range

ID_TAG_MAX_CHARS = 20  # OCPP 1.6 idToken: CiString20Type


@dataclass(frozen=True)
class OcppSettings:
    url: str  # ws:// or wss://; the charge point id is appended: <url>/<charge_point_id>
    charge_point_id: str
    version: str = "1.6"
    basic_auth_password: str | None = None  # security profile 1 (HTTP basic auth) when set
    vendor: str = "evse-supervisor"  # BootNotification chargePointVendor
    model: str = "sim"  # BootNotification chargePointModel
    meter_values_interval_s: float = 60.0  # MeterValueSampleInterval
    connect_timeout_s: float = 10.0  # ConnectionTimeOut of the WebSocket opening handshake
    reconnect_min_s: float = 1.0  # backoff between connection attempts: doubling ...
    reconnect_max_s: float = 60.0  # ... up to this
    response_timeout_s: float = 30.0  # a CALL without an answer within this has timed out
    transaction_message_attempts: int = 3  # TransactionMessageAttempts
    transaction_message_retry_interval_s: float = 10.0  # TransactionMessageRetryInterval
    local_pre_authorize: bool = False  # LocalPreAuthorize
    local_authorize_offline: bool = True  # LocalAuthorizeOffline
    heartbeat_interval_s: float = 300.0  # when BootNotification.conf gives no interval
    free_id_tag: str = "FREE"  # the idTag of a free_charging connector's transactions

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/{self.charge_point_id}"


KEYS = tuple(f.name for f in fields(OcppSettings))
_TIMEOUT = Range(0, 3600, True)


def parse_ocpp(top: Map) -> OcppSettings | None:
    """The `ocpp:` section of the top-level map, or None when the file has none."""
    if "ocpp" not in top.entries:
        return None
    section = top.section("ocpp", KEYS)
    version = section.string("version", "1.6")
    if version != "1.6":
        raise section.fail("version", f'must be "1.6" (the only OCPP version built), got {version!r}')
    d = OcppSettings(url="", charge_point_id="")
    reconnect_min_s = section.number("reconnect_min_s", d.reconnect_min_s, _TIMEOUT)
    return OcppSettings(
        url=_url(section),
        charge_point_id=_word(section, "charge_point_id", None, 48),
        version=version,
        basic_auth_password=_password(section),
        vendor=_word(section, "vendor", d.vendor, 20),
        model=_word(section, "model", d.model, 20),
        meter_values_interval_s=section.number(
            "meter_values_interval_s", d.meter_values_interval_s, _TIMEOUT
        ),
        connect_timeout_s=section.number("connect_timeout_s", d.connect_timeout_s, _TIMEOUT),
        reconnect_min_s=reconnect_min_s,
        reconnect_max_s=section.number("reconnect_max_s", d.reconnect_max_s, Range(reconnect_min_s, 3600)),
        response_timeout_s=section.number("response_timeout_s", d.response_timeout_s, _TIMEOUT),
        transaction_message_attempts=section.integer(
            "transaction_message_attempts", d.transaction_message_attempts, Range(1, 100)
        ),
        transaction_message_retry_interval_s=section.number(
            "transaction_message_retry_interval_s", d.transaction_message_retry_interval_s, Range(0, 3600)
        ),
        local_pre_authorize=section.boolean("local_pre_authorize", d.local_pre_authorize),
        local_authorize_offline=section.boolean("local_authorize_offline", d.local_authorize_offline),
        heartbeat_interval_s=section.number("heartbeat_interval_s", d.heartbeat_interval_s, POSITIVE),
        free_id_tag=_word(section, "free_id_tag", d.free_id_tag, ID_TAG_MAX_CHARS),
    )


def _url(section: Map) -> str:
    section.require("url")
    value = section.string("url", "")
    if not value.startswith(("ws://", "wss://")) or len(value) <= len("wss://"):
        raise section.fail("url", f"must be a ws:// or wss:// URL, e.g. ws://127.0.0.1:9000, got {value!r}")
    return value


def _word(section: Map, name: str, default: str | None, max_chars: int) -> str:
    if default is None:
        section.require(name)
    value = section.string(name, default or "")
    if not value or len(value) > max_chars or any(ch.isspace() or ch == "/" for ch in value):
        message = f"must be 1 to {max_chars} characters without spaces or '/', got {value!r}"
        raise section.fail(name, message)
    return value


def _password(section: Map) -> str | None:
    node = section.entries.get("basic_auth_password")
    if node is None or section.doc.value(node, section.key("basic_auth_password")) is None:
        return None
    value = section.string("basic_auth_password", "")
    if not value:
        raise section.fail("basic_auth_password", "must be a non-empty string, or null for no password")
    return value
