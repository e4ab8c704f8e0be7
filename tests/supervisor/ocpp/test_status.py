"""The status table of spec/ocpp.md: a connector's state and active error → its OCPP status."""

from __future__ import annotations

import pytest

from supervisor.ocpp.status import ConnectorView, OcppStatus, SessionView, charge_point_status, ocpp_status

AUTHORIZED = SessionView("u", "CARD", authorized=True, cancelled=False, reservation_id=None)
CANCELLED = SessionView("u", "CARD", authorized=True, cancelled=True, reservation_id=None)


@pytest.mark.parametrize(
    ("view", "status", "error_code"),
    [
        (ConnectorView("Idle"), "Available", "NoError"),
        (ConnectorView("Idle", reserved=True), "Reserved", "NoError"),
        (ConnectorView("Idle", pre_authorized=True), "Preparing", "NoError"),
        (ConnectorView("WaitingForAuthentication"), "Preparing", "NoError"),
        (ConnectorView("Charging", session=AUTHORIZED), "Charging", "NoError"),
        (ConnectorView("ChargingPausedEV", session=AUTHORIZED), "SuspendedEV", "NoError"),
        (ConnectorView("ChargingPausedEVSE", session=AUTHORIZED), "SuspendedEVSE", "NoError"),
        (ConnectorView("ChargingPausedEVSE", session=CANCELLED), "Finishing", "NoError"),
        (ConnectorView("Finished"), "Finishing", "NoError"),
        (ConnectorView("Disabled"), "Unavailable", "NoError"),
        (ConnectorView("Disabled", session=CANCELLED), "Unavailable", "NoError"),
        (ConnectorView("Error", ("RCD",)), "Faulted", "GroundFailure"),
        (ConnectorView("Error", ("OverCurrent",)), "Faulted", "OverCurrentFailure"),
        (ConnectorView("Error", ("Relais",)), "Faulted", "PowerSwitchFailure"),
        (ConnectorView("Error", ("Car",)), "SuspendedEVSE", "EVCommunicationError"),
        (ConnectorView("Error", ("CarDiodeFault",)), "SuspendedEVSE", "EVCommunicationError"),
        (ConnectorView("Error", ("VentilationNotAvailable",)), "SuspendedEVSE", "OtherError"),
        (ConnectorView("Error", ("Car", "RCD")), "Faulted", "GroundFailure"),
        (ConnectorView("Faulted"), "Faulted", "OtherError"),
        (ConnectorView("Faulted", gave_up=True), "Faulted", "InternalError"),
    ],
)
def test_the_status_of_a_connector(view: ConnectorView, status: str, error_code: str) -> None:
    found = ocpp_status(view)
    assert (found.status, found.error_code) == (status, error_code)


def test_connector_0_is_unavailable_only_when_every_connector_is() -> None:
    assert charge_point_status([ConnectorView("Disabled"), ConnectorView("Charging")]) == OcppStatus(
        "Available"
    )
    assert charge_point_status([ConnectorView("Disabled")] * 2) == OcppStatus("Unavailable")
