"""A connector's OCPP 1.6 status from its state and active error: the table of spec/ocpp.md.

`ConnectorView` is what the bridge reads of a connector (what `status` shows, plus the
session facts the table needs); `ocpp_status` is the table; connector 0 stands for the
whole charge point.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_ERROR = "NoError"

# Errors that make the connector Faulted, and those under which it is only SuspendedEVSE
_FAULTED_BY = {"RCD": "GroundFailure", "OverCurrent": "OverCurrentFailure", "Relais": "PowerSwitchFailure"}
_SUSPENDED_BY = {
    "Car": "EVCommunicationError",
    "CarDiodeFault": "EVCommunicationError",
    "VentilationNotAvailable": "OtherError",
}
_BY_STATE = {
    "Idle": "Available",
    "WaitingForAuthentication": "Preparing",
    "Charging": "Charging",
    "ChargingPausedEV": "SuspendedEV",
    "ChargingPausedEVSE": "SuspendedEVSE",
    "Finished": "Finishing",
}


@dataclass(frozen=True)
class SessionView:
    uuid: str
    token: str | None
    authorized: bool
    cancelled: bool
    reservation_id: int | None


@dataclass(frozen=True)
class ConnectorView:
    state: str  # the evse_manager connector state
    errors: tuple[str, ...] = ()  # the active errors (evse_manager Error names)
    session: SessionView | None = None
    reserved: bool = False
    pre_authorized: bool = False
    gave_up: bool = False  # Faulted because the supervisor gave up on the connector
    recovering: bool = False  # taken up from the journal, not yet reconciled with the board
    reservation_id: int | None = None  # the reservation it holds

    @property
    def in_transaction(self) -> bool:
        """An authorized session that was not cancelled is on (a transaction, or about to be one)."""
        return self.session is not None and self.session.authorized and not self.session.cancelled


@dataclass(frozen=True)
class OcppStatus:
    status: str  # ChargePointStatus
    error_code: str = NO_ERROR  # ChargePointErrorCode
    info: str | None = None


def ocpp_status(view: ConnectorView) -> OcppStatus:
    """The StatusNotification of a connector in this view (first match of the spec's table)."""
    if view.state == "Faulted":
        return OcppStatus("Faulted", "InternalError" if view.gave_up else "OtherError")
    if view.state == "Error":
        return _error_status(view.errors)
    if view.state == "Disabled":
        return OcppStatus("Unavailable")
    session = view.session
    if session is not None and session.cancelled:
        return OcppStatus("Finishing")
    if view.state == "Idle" and view.reserved:
        return OcppStatus("Reserved")
    if view.state == "Idle" and view.pre_authorized:
        return OcppStatus("Preparing")
    return OcppStatus(_BY_STATE.get(view.state, "Unavailable"))


def _error_status(errors: tuple[str, ...]) -> OcppStatus:
    """Faulted errors win over those that only suspend; the first in the table's order names it."""
    for error, code in _FAULTED_BY.items():
        if error in errors:
            return OcppStatus("Faulted", code, error)
    for error, code in _SUSPENDED_BY.items():
        if error in errors:
            return OcppStatus("SuspendedEVSE", code, error)
    return OcppStatus("Faulted", "OtherError", ",".join(errors) or None)


def charge_point_status(views: list[ConnectorView]) -> OcppStatus:
    """Connector 0: Unavailable when every connector is, otherwise Available."""
    if views and all(v.state == "Disabled" for v in views):
        return OcppStatus("Unavailable")
    return OcppStatus("Available")
