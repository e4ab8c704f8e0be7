"""The charge point's configuration keys (OCPP 1.6 chapter 9): values, what may change, how.

`Configuration` holds the keys of spec/ocpp.md with their values: the writable ones start
from the `ocpp:` settings and what ChangeConfiguration set before (kept in the bridge's
journal, so a change outlives a restart); `settings` is the `ocpp:` settings as changed, which
the bridge's parts read at each use, so a change takes effect at the next use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.config.ocpp import OcppSettings
from supervisor.ocpp.payloads import MEASURANDS

SAMPLED_MEASURANDS = MEASURANDS
FEATURE_PROFILES = "Core,Reservation,SmartCharging,RemoteTrigger"
MAX_STACK_LEVEL = 8
MAX_PERIODS = 24
MAX_PROFILES = 32
MAX_KEYS = 64
KEPT = "config."  # the journal's keys of changed values: config.<Key>


class BadValue(ValueError):
    """A value a key cannot take (ChangeConfiguration answers Rejected)."""


@dataclass(frozen=True)
class Key:
    name: str
    parse: Callable[[str], Any] | None  # None: read-only
    field: str | None = None  # the `ocpp:` setting it sets, when it is one


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise BadValue(f"must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise BadValue(f"must be {low} to {high}, got {value}")
        return value

    return parse


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise BadValue(f'must be "true" or "false", got {text!r}')
    return lowered == "true"


def _measurands(text: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    unknown = [item for item in items if item not in SAMPLED_MEASURANDS]
    if not items or unknown:
        raise BadValue(f"must list some of {', '.join(SAMPLED_MEASURANDS)}, got {text!r}")
    return items


_DAY_S = 86400
KEYS: tuple[Key, ...] = (
    Key("HeartbeatInterval", _integer(1, _DAY_S)),
    Key("ConnectionTimeOut", _integer(1, 3600), "connect_timeout_s"),
    Key("MeterValueSampleInterval", _integer(0, _DAY_S), "meter_values_interval_s"),
    Key("MeterValuesSampledData", _measurands),
    Key("LocalPreAuthorize", _boolean, "local_pre_authorize"),
    Key("LocalAuthorizeOffline", _boolean, "local_authorize_offline"),
    Key("AuthorizeRemoteTxRequests", _boolean),
    Key("StopTransactionOnInvalidId", _boolean),
    Key("StopTransactionOnEVSideDisconnect", None),
    Key("NumberOfConnectors", None),
    Key("ConnectorPhaseRotation", None),
    Key("TransactionMessageAttempts", _integer(1, 100), "transaction_message_attempts"),
    Key("TransactionMessageRetryInterval", _integer(0, 3600), "transaction_message_retry_interval_s"),
    Key("AuthorizationCacheEnabled", None),
    Key("AllowOfflineTxForUnknownId", None),
    Key("SupportedFeatureProfiles", None),
    Key("ReserveConnectorZeroSupported", None),
    Key("GetConfigurationMaxKeys", None),
    Key("ChargeProfileMaxStackLevel", None),
    Key("ChargingScheduleAllowedChargingRateUnit", None),
    Key("ChargingScheduleMaxPeriods", None),
    Key("MaxChargingProfilesInstalled", None),
)
BY_NAME = {key.name: key for key in KEYS}


class Configuration:
    def __init__(self, settings: OcppSettings, phase_rotations: list[str], kept: Mapping[str, Any]) -> None:
        """`phase_rotations`: each connector's `phase_rotation`; `kept`: the journal's config.* values."""
        self.settings = settings
        self.heartbeat_s = settings.heartbeat_interval_s  # BootNotification.conf's interval, once given
        self.sampled: tuple[str, ...] = SAMPLED_MEASURANDS
        self.authorize_remote_tx_requests = False
        self.stop_transaction_on_invalid_id = True
        self._rotations = phase_rotations
        for name, text in kept.items():
            key = BY_NAME.get(name.removeprefix(KEPT))
            if key is not None and key.parse is not None and isinstance(text, str):
                with contextlib.suppress(BadValue):  # a value no longer valid: the setting's own stays
                    self._set(key, key.parse(text))

    def values(self) -> dict[str, tuple[str, bool]]:
        """Every key's value as OCPP writes it, and whether it is read-only."""
        s = self.settings
        text = {
            "HeartbeatInterval": _int_text(self.heartbeat_s),
            "ConnectionTimeOut": _int_text(s.connect_timeout_s),
            "MeterValueSampleInterval": _int_text(s.meter_values_interval_s),
            "MeterValuesSampledData": ",".join(self.sampled),
            "LocalPreAuthorize": _bool_text(s.local_pre_authorize),
            "LocalAuthorizeOffline": _bool_text(s.local_authorize_offline),
            "AuthorizeRemoteTxRequests": _bool_text(self.authorize_remote_tx_requests),
            "StopTransactionOnInvalidId": _bool_text(self.stop_transaction_on_invalid_id),
            "StopTransactionOnEVSideDisconnect": "true",
            "NumberOfConnectors": str(len(self._rotations)),
            "ConnectorPhaseRotation": ",".join(f"{i}.{r}" for i, r in enumerate(self._rotations, 1)),
            "TransactionMessageAttempts": str(s.transaction_message_attempts),
            "TransactionMessageRetryInterval": _int_text(s.transaction_message_retry_interval_s),
            "AuthorizationCacheEnabled": "true",
            "AllowOfflineTxForUnknownId": "false",
            "SupportedFeatureProfiles": FEATURE_PROFILES,
            "ReserveConnectorZeroSupported": "false",
            "GetConfigurationMaxKeys": str(MAX_KEYS),
            "ChargeProfileMaxStackLevel": str(MAX_STACK_LEVEL),
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "ChargingScheduleMaxPeriods": str(MAX_PERIODS),
            "MaxChargingProfilesInstalled": str(MAX_PROFILES),
        }
        return {key.name: (text[key.name], key.parse is None) for key in KEYS}

    def change(self, name: str, text: str) -> str:
        """ChangeConfiguration's status: Accepted (then keep it), Rejected or NotSupported."""
        key = BY_NAME.get(name)
        if key is None:
            return "NotSupported"
        if key.parse is None:
            return "Rejected"
        try:
            self._set(key, key.parse(text))
        except BadValue:
            return "Rejected"
        return "Accepted"

    def _set(self, key: Key, value: Any) -> None:
        if key.field is not None:
            number: Any = value if isinstance(value, bool) else float(value)
            if key.field == "transaction_message_attempts":
                number = int(value)
            changes: dict[str, Any] = {key.field: number}
            self.settings = dataclasses.replace(self.settings, **changes)
        elif key.name == "HeartbeatInterval":
            self.heartbeat_s = float(value)
        elif key.name == "MeterValuesSampledData":
            self.sampled = value
        elif key.name == "AuthorizeRemoteTxRequests":
            self.authorize_remote_tx_requests = value
        elif key.name == "StopTransactionOnInvalidId":
            self.stop_transaction_on_invalid_id = value


def _int_text(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value == int(value) else str(value)


def _bool_text(value: bool) -> str:
    return "true" if value else "false"
