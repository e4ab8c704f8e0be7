"""One connector's configuration, as the actors see it (built by the config loader)."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.modbus import ModbusDevice


@dataclass(frozen=True)
class ConnectorSettings:
    index: int  # 1-based position in the station
    evse_id: str
    enabled_at_start: bool = True
    max_current_a: float = 32.0
    phases: int = 3
    phase_switching: bool = True
    lock: bool = True
    free_charging: bool = False
    require_accept_new_session: bool = False
    auth_timeout_s: float = 60.0
    telemetry_interval_s: float = 1.0
    meter_interval_s: float = 1.0
    board_driver: str = "sim"
    grid_limited: bool = False  # the station has a limit: no current before the allocation
    phase_rotation: str = "RST"  # the grid phases of the connector's L1, L2, L3
    meter_driver: str = "sim"
    state_f: bool = True  # the board can drive F; without it Faulted is X1 with the power off
    telemetry: bool = True  # the board has telemetry to publish
    board_device: ModbusDevice | None = None  # driver modbus: the controller
    meter_device: ModbusDevice | None = None  # driver modbus: the meter
