"""A connector's assembly: the team of its actors without a supervisor, and what its leases allow."""

from __future__ import annotations

import pytest

from actors.messages import ReadStatus
from actors.settings import ConnectorSettings
from drivers.clock import FakeClock
from supervisor.station.assembly import ROLES, Team, assemble
from supervisor.tree import Fenced, Unavailable
from tests.harness import Recorder

SETTINGS = ConnectorSettings(index=3, evse_id="DE*TST*E3*1")


def test_a_stopped_team_can_change_nothing() -> None:
    parts = assemble(SETTINGS, Recorder(), FakeClock(), device_loss_s=30.0)
    team = Team(parts.ctx)
    team.start()
    assert team.ask("hardware", ReadStatus(), 5.0).plugged is False
    assert sorted(team.leases) == sorted(role for role, _ in ROLES)
    team.stop()
    assert not any(ref.is_alive() for ref in team.refs.values())
    for lease in team.leases.values():
        with pytest.raises(Fenced):
            parts.state.set_model(lease, parts.state.model)


def test_a_team_without_a_role_answers_unavailable_for_it() -> None:
    parts = assemble(SETTINGS, Recorder(), FakeClock(), device_loss_s=30.0)
    team = Team(parts.ctx, tuple(entry for entry in ROLES if entry[0] != "hardware"))
    team.start()  # the session starts without the board's status
    with pytest.raises(Unavailable, match="evse 3 has no hardware actor"):
        team.ask("hardware", ReadStatus(), 5.0)
    team.stop()
