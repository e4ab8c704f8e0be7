"""The station's allocation in the charging state machine: pure steps, injected time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from actors.charging import ALLOCATION_HOLD_S, Step, state_of, step
from actors.derived import allowed_current_a
from actors.messages import Authorize, BoardReport, SetAllocation, Tick
from actors.model import Emit, Env, Model, SessionEvent, State
from actors.settings import ConnectorSettings
from drivers.base import BoardStatus, CPState

LIMITED = ConnectorSettings(index=1, evse_id="X", max_current_a=32.0, grid_limited=True)
PLUGGED = BoardStatus(cp=CPState.B, plugged=True, relais_on=False, three_phases=True, locked=False)
T0 = 1000.0


class Machine:
    def __init__(self, settings: ConnectorSettings = LIMITED) -> None:
        self.settings = settings
        self.model = Model.initial(settings)
        self.now = T0
        self.events: list[SessionEvent] = []

    def send(self, message: object, admission_a: float = 0.0) -> Step:
        env = Env(self.settings, None, self.now, lambda: "uuid-1", self.now, admission_a)
        result = step(self.model, message, env)
        self.model = result.model
        self.events += [o.event for o in result.outputs if isinstance(o, Emit)]
        return result

    def state(self) -> State:
        return state_of(self.model, Env(self.settings, None, self.now, lambda: "", self.now))

    def limit_a(self) -> float:
        return allowed_current_a(self.model, Env(self.settings, None, self.now, lambda: "", self.now))


def charging(admission_a: float) -> Machine:
    machine = Machine()
    machine.send(BoardReport(PLUGGED))
    machine.send(Authorize("T"), admission_a)
    machine.send(BoardReport(replace(PLUGGED, cp=CPState.C)))
    return machine


def test_a_grid_limited_connector_starts_at_0_a() -> None:
    assert Machine().limit_a() == 0.0
    assert Machine(replace(LIMITED, grid_limited=False)).limit_a() == 32.0


def test_a_session_authorized_with_the_minimum_claimed_charges_without_a_pause_first() -> None:
    machine = charging(admission_a=6.0)
    assert machine.state() is State.Charging
    assert machine.limit_a() == 6.0
    assert SessionEvent.ChargingPausedEVSE not in machine.events


def test_without_the_minimum_it_waits_paused_and_starts_by_itself_once_allocated() -> None:
    machine = charging(admission_a=0.0)
    assert machine.state() is State.ChargingPausedEVSE
    machine.send(SetAllocation(10.0))
    assert machine.state() is State.Charging
    assert machine.events[-2:] == [SessionEvent.ChargingPausedEVSE, SessionEvent.ChargingResumed]
    assert machine.limit_a() == 10.0


def test_an_allocation_to_a_connector_without_an_authorized_session_is_0_a() -> None:
    machine = Machine()
    machine.send(BoardReport(PLUGGED))
    machine.send(SetAllocation(16.0))
    assert machine.model.allocation_a == 0.0


def test_the_allocation_falls_to_0_a_once_its_hold_runs_out_and_a_renewal_holds_it() -> None:
    machine = charging(admission_a=6.0)
    machine.send(SetAllocation(16.0))
    machine.now += ALLOCATION_HOLD_S - 1
    machine.send(Tick())
    assert machine.limit_a() == 16.0
    machine.send(SetAllocation(16.0))  # renewed
    machine.now += ALLOCATION_HOLD_S - 1
    machine.send(Tick())
    assert machine.state() is State.Charging
    machine.now += 2
    machine.send(Tick())
    assert machine.limit_a() == 0.0
    assert machine.state() is State.ChargingPausedEVSE


def test_the_session_ending_gives_its_allocation_back_and_none_means_no_station_limit() -> None:
    machine = charging(admission_a=6.0)
    machine.send(SetAllocation(20.0))
    machine.send(BoardReport(replace(PLUGGED, cp=CPState.A, plugged=False)))
    assert machine.model.allocation_a == 0.0
    machine.send(SetAllocation(None))
    assert machine.limit_a() == 32.0


@pytest.mark.parametrize("bad", [float("nan"), -1.0])
def test_an_impossible_allocation_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="allocation"):
        Machine().send(SetAllocation(bad))
