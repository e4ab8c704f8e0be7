"""OCPP 1.6 payloads of the transaction messages, as JSON-ready dicts in the wire's camelCase.

They are written to the queue as built here and sent later, so they hold only plain
values; `transactionId` is filled in when a message is sent (the central system gives it
in StartTransaction.conf, possibly after the station restarted).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

ENERGY = "Energy.Active.Import.Register"
MEASURANDS = (ENERGY, "Power.Active.Import", "Current.Import")  # what a sample holds


def timestamp(unix_s: float) -> str:
    """An OCPP dateTime: UTC, milliseconds, `Z`."""
    moment = datetime.fromtimestamp(unix_s, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def ocmf_energy_wh(ocmf: str) -> float | None:
    """The energy of an OCMF reading (its last RD entry, kWh) in Wh; None when it has none."""
    try:
        payload = json.loads(ocmf.split("|", 1)[1].rsplit("|", 1)[0])
        reading = payload["RD"][-1]
        factor = 1000.0 if reading.get("RU", "kWh") == "kWh" else 1.0
        return float(reading["RV"]) * factor
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def signed_value(ocmf: str, context: str) -> dict[str, Any]:
    """An OCMF string as a SampledValue: `format: SignedData`, the energy register's measurand."""
    return {"value": ocmf, "context": context, "format": "SignedData", "measurand": ENERGY}


def start_transaction(
    connector: int, id_tag: str, meter_start_wh: int, unix_s: float, reservation_id: int | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": connector,
        "idTag": id_tag,
        "meterStart": meter_start_wh,
        "timestamp": timestamp(unix_s),
    }
    if reservation_id is not None:
        payload["reservationId"] = reservation_id
    return payload


def stop_transaction(
    meter_stop_wh: int, unix_s: float, reason: str, id_tag: str, signed: list[dict[str, Any]]
) -> dict[str, Any]:
    """StopTransaction without its transactionId; `signed` holds the begin/end SignedData values."""
    payload: dict[str, Any] = {
        "meterStop": meter_stop_wh,
        "timestamp": timestamp(unix_s),
        "reason": reason,
        "idTag": id_tag,
    }
    if signed:
        payload["transactionData"] = [{"timestamp": timestamp(unix_s), "sampledValue": signed}]
    return payload


def meter_values(connector: int, unix_s: float, values: list[dict[str, Any]]) -> dict[str, Any]:
    """MeterValues of one moment, without its transactionId."""
    return {
        "connectorId": connector,
        "meterValue": [{"timestamp": timestamp(unix_s), "sampledValue": values}],
    }


def sampled_values(powermeter: dict[str, Any], context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    """Energy (Wh), power (W) and the current of each phase (A) of a `powermeter` publication."""
    values = [_sample(powermeter["energy_Wh_import"]["total"], context, ENERGY, "Wh")]
    power = powermeter.get("power_W")
    if power is not None:
        values.append(_sample(power["total"], context, "Power.Active.Import", "W"))
    for phase, amperes in sorted((powermeter.get("current_A") or {}).items()):
        if phase in ("L1", "L2", "L3"):
            values.append(_sample(amperes, context, "Current.Import", "A", phase))
    return values


def _sample(
    value: float, context: str, measurand: str, unit: str, phase: str | None = None
) -> dict[str, Any]:
    sample = {"value": f"{value:.1f}", "context": context, "measurand": measurand, "unit": unit}
    if phase is not None:
        sample["phase"] = phase
    return sample
