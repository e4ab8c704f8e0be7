"""`evse-supervisor probe`: read every value of each configured device once and print it."""

from __future__ import annotations

from actors.settings import ConnectorSettings
from drivers.modbus import ModbusDevice, ModbusLink
from drivers.modbus.probe import probe
from supervisor.config.settings import StationSettings


def probe_station(settings: StationSettings, evse: int | None) -> int:
    """Print each device's values; 1 when a connector is unknown or a value could not be read."""
    connectors = [c for c in settings.connectors if evse is None or c.index == evse]
    if not connectors:
        print(f"evse-supervisor: no connector {evse}: the config has 1 to {len(settings.connectors)}")
        return 1
    ok = True
    for connector in connectors:
        ok = _probe_connector(connector) and ok
    return 0 if ok else 1


def _probe_connector(c: ConnectorSettings) -> bool:
    print(f"connector {c.index} {c.evse_id}")
    ok = True
    for kind, driver, device in (
        ("board", c.board_driver, c.board_device),
        ("meter", c.meter_driver, c.meter_device),
    ):
        if device is None:
            print(f"  {kind}: {driver} (simulated, nothing to probe)")
            continue
        ok = _probe_device(kind, device) and ok
    return ok


def _probe_device(kind: str, device: ModbusDevice) -> bool:
    print(f"  {kind}: {device.model.name} at {device.endpoint} unit {device.unit}")
    link = ModbusLink(device.endpoint, device.timeout_s)
    try:
        lines = probe(device, link)
    finally:
        link.close()
    for line in lines:
        print(f"    {line.name:<18} @{line.address:<6} {line.shown}")
    return all(line.ok for line in lines)
