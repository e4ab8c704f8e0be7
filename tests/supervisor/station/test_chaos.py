"""Chaos during a charging session: every actor killed, then hung; nothing is lost or doubled."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors.model import Emit, SessionEvent
from supervisor.client import ApiError, Client
from supervisor.tree import Lease
from tests.harness import validate
from tests.live import FAST_SUPERVISION, LiveStation, live_settings

ROLES = ("hardware", "meter", "reservation", "session")


@pytest.fixture
def live(tmp_path: pathlib.Path) -> Iterator[LiveStation]:
    station = LiveStation(live_settings(tmp_path))
    yield station
    station.close()


@pytest.fixture
def strict_live(tmp_path: pathlib.Path) -> Iterator[LiveStation]:
    """A live station whose connectors are given up past 3 failures."""
    limits = dataclasses.replace(FAST_SUPERVISION, intensity=3)
    station = LiveStation(live_settings(tmp_path, supervision=limits))
    yield station
    station.close()


class Load(threading.Thread):
    """A client sending connector commands until stopped; counts each request's one outcome."""

    def __init__(self, client: Client, index: int) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.index = index
        self.halt = threading.Event()
        self.outcomes: Counter[str] = Counter()
        self.sent = 0

    def run(self) -> None:
        while not self.halt.is_set():
            self.sent += 1
            try:
                self.client.get_signed_meter_value(self.index)
                self.client.set_local_max_current(self.index, 32)
                self.sent += 1
                self.outcomes["ok"] += 2
            except ApiError as exc:
                self.outcomes[exc.code] += 1
            except TimeoutError:
                self.outcomes["unanswered"] += 1

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)


def restarted(live: LiveStation, index: int, role: str, generation: int) -> None:
    live.subscriber.wait_for(
        "station/supervision",
        lambda v: (
            v["evse"] == index
            and v["actor"] == role
            and v["event"] == "restarted"
            and v["generation"] > generation
        ),
    )


def generation(live: LiveStation, index: int, role: str) -> int:
    actors = live.station.connector(index).tree.describe()["actors"]
    return int(next(a["generation"] for a in actors if a["role"] == role))


def charging_again(live: LiveStation, index: int) -> None:
    """Wait for the connector to be back in Charging after a restart."""
    live.subscriber.wait_for(
        "station/heartbeat", lambda v: v["evses"][index - 1]["state"] == "Charging", 10.0
    )


def start_session(live: LiveStation, client: Client, index: int) -> None:
    assert client.sim_plug_in(index) is True
    live.subscriber.wait_event(index, "AuthRequired")
    assert client.authorize(index, "CARD-CHAOS") is True
    live.subscriber.wait_event(index, "ChargingResumed")


def check_session(events: list[dict[str, Any]]) -> None:
    names = [e["value"]["event"] for e in events]
    assert names.count("SessionStarted") == 1 and names.count("SessionFinished") == 1, names
    assert names.index("SessionStarted") < names.index("SessionFinished") == len(names) - 1, names
    assert len({e["value"]["uuid"] for e in events}) == 1, names
    seqs = [e["event_seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_each_actor_killed_then_hung_during_a_session_loses_nothing(live: LiveStation) -> None:
    client = live.client(timeout_s=8.0, retries=0)
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert client.reserve_now(2, 77, "KEEP", expiry) == "Accepted"
    start_session(live, client, 1)
    load = Load(live.client(timeout_s=8.0, retries=0), 1)
    load.start()
    for role in ROLES:
        before = generation(live, 1, role)
        assert client.chaos_kill(1, role) is True
        restarted(live, 1, role, before)
        charging_again(live, 1)
    for role in ROLES:
        before = generation(live, 1, role)
        assert client.chaos_hang(1, role, 1.0) is True
        live.subscriber.wait_for(
            "station/supervision", lambda v, r=role: v["actor"] == r and v["event"] == "hung"
        )
        restarted(live, 1, role, before)
        charging_again(live, 1)
    load.stop()
    assert client.sim_unplug(1) is True
    live.subscriber.wait_event(1, "SessionFinished")
    check_session(client.get_events(1, 0)["events"])
    energies = [p["energy_Wh_import"]["total"] for p in live.subscriber.values("evse/1/powermeter")]
    assert energies == sorted(energies) and energies[-1] > 0
    assert live.station.connector(2).state.reservation is not None
    assert [e["value"]["event"] for e in client.get_events(2, 0)["events"]] == ["ReservationStart"]
    assert load.sent > 0 and load.outcomes["unanswered"] == 0
    assert sum(load.outcomes.values()) == load.sent, load.outcomes


def test_a_connector_killed_past_its_intensity_is_faulted_and_comes_back(strict_live: LiveStation) -> None:
    live = strict_live
    client = live.client(timeout_s=8.0, retries=0)
    start_session(live, client, 1)
    start_session(live, client, 2)
    for _ in range(4):
        before = generation(live, 1, "hardware")
        client.chaos_kill(1, "hardware")
        live.subscriber.wait_for(
            "station/supervision",
            lambda v, g=before: v["evse"] == 1 and (v["event"] == "gave_up" or v["generation"] > g),
        )
    live.subscriber.wait_for("station/supervision", lambda v: v["evse"] == 1 and v["event"] == "gave_up")
    fault = live.subscriber.wait_event(1, "PermanentFault")
    assert fault["error"] == "Internal"
    assert live.station.connector(1).plant.controls.state()["power_allowed"] is False
    with pytest.raises(ApiError) as refused:
        client.pause_charging(1)
    assert refused.value.code == "unavailable"
    assert live.station.connector(2).state_name().value == "Charging"
    assert client.disable(1) is True
    assert client.enable(1) is True
    live.subscriber.wait_event(1, "Enabled")
    assert live.station.connector(1).tree.state == "running"
    assert live.station.connector(2).state_name().value == "Charging"
    names = [e["value"]["event"] for e in client.get_events(1, 0)["events"]]
    assert names[-4:] == ["SessionCancelled", "PermanentFault", "Disabled", "Enabled"]


@pytest.mark.parametrize(("kind", "role"), [("meter_comm", "meter"), ("board_comm", "hardware")])
def test_a_driver_that_fails_restarts_its_actor_and_charging_resumes(
    live: LiveStation, kind: str, role: str
) -> None:
    client = live.client(timeout_s=8.0, retries=0)
    start_session(live, client, 1)
    before = generation(live, 1, role)
    assert client.sim_fault(1, kind) is True
    live.subscriber.wait_for(
        "station/supervision", lambda v: v["evse"] == 1 and v["actor"] == role and v["event"] == "crashed"
    )
    assert client.sim_clear_fault(1, kind) is True
    restarted(live, 1, role, before)
    charging_again(live, 1)
    names = [e["value"]["event"] for e in client.get_events(1, 0)["events"]]
    assert names.count("SessionStarted") == 1 and "SessionFinished" not in names


def signed_value_soon(client: Client, index: int, tries: int = 5) -> str:
    """A signed meter value; a request caught in the middle of a restart may answer unavailable once."""
    for _ in range(tries - 1):
        try:
            return client.get_signed_meter_value(index)
        except ApiError as caught:
            assert caught.code == "unavailable"
    return client.get_signed_meter_value(index)


@pytest.mark.parametrize("role", ["meter", "hardware"])
def test_a_hung_peer_does_not_hold_the_connector_until_it_wakes(live: LiveStation, role: str) -> None:
    """The session asking a hung peer gives up once the peer is fenced; a new generation answers."""
    client = live.client(timeout_s=8.0, retries=0)
    start_session(live, client, 1)
    before = generation(live, 1, role)
    assert client.chaos_hang(1, role, 30) is True  # far beyond the client's deadline
    assert signed_value_soon(client, 1).startswith("OCMF|")
    restarted(live, 1, role, before)
    charging_again(live, 1)


def test_what_a_step_decided_is_carried_out_once_across_a_peer_hang(live: LiveStation) -> None:
    """Authorize on a reserved connector while the reservation actor hangs: the decided events
    (ReservationEnd, ChargingStarted, ...) wait in the connector's outbox and come once, in order."""
    client = live.client(timeout_s=8.0, retries=0)
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert client.reserve_now(1, 9, "CARD-R", expiry) == "Accepted"
    assert client.sim_plug_in(1) is True
    live.subscriber.wait_event(1, "AuthRequired")
    before = generation(live, 1, "reservation")
    assert client.chaos_hang(1, "reservation", 30) is True
    try:
        assert client.authorize(1, "CARD-R") is True
    except ApiError as refused:  # the reservation actor was fenced in the middle of the command
        assert refused.code == "unavailable"
    restarted(live, 1, "reservation", before)
    live.subscriber.wait_event(1, "ChargingResumed")
    names = [e["value"]["event"] for e in client.get_events(1, 0)["events"]]
    assert names == [
        "ReservationStart",
        "SessionStarted",
        "AuthRequired",
        "ReservationEnd",
        "ChargingStarted",
        "ChargingPausedEV",
        "ChargingResumed",
    ]
    assert client.authorize(1, "CARD-R") is True  # the authorization itself was kept


def test_what_the_last_step_left_undone_is_published_before_the_fault(live: LiveStation) -> None:
    """A connector given up with an event still in its outbox publishes it before PermanentFault."""
    client = live.client(timeout_s=8.0, retries=0)
    start_session(live, client, 1)
    live.subscriber.wait_for("evse/1/powermeter", lambda v: v["energy_Wh_import"]["total"] > 0)
    connector = live.station.connector(1)
    connector.tree.stop()  # the actors are gone, as when the supervisor gives up
    running = len(pykka.ActorRegistry.get_all())
    state = connector.state
    assert state.model.session is not None
    pending = Emit(SessionEvent.ChargingPausedEVSE, uuid=state.model.session_uuid)
    state.set_model(Lease("left-over", 1), state.model, (pending,))
    connector.give_up()
    expected = ["ChargingPausedEVSE", "SessionCancelled", "PermanentFault"]
    events = [e["value"] for e in client.get_events(1, 0)["events"]]
    assert [e["event"] for e in events[-3:]] == expected
    assert len({e["uuid"] for e in events[-4:]}) == 1
    cancelled = events[-2]["session_cancelled"]
    assert cancelled["signed_meter_value"].startswith("OCMF|") and cancelled["energy_Wh_import"] > 0
    assert state.outbox == ()
    assert len(pykka.ActorRegistry.get_all()) == running  # its last team is gone again
    assert live.station.connector(1).plant.controls.state()["pilot"] == "F"
    published = live.subscriber.values("evse/1/session_events")
    assert [v["event"] for v in published[-3:]] == expected
    for value in published[-3:]:
        validate("SessionEvents", value)


def test_a_chaos_command_during_a_restart_waits_for_the_new_generation(tmp_path: pathlib.Path) -> None:
    """A repeated failure is restarted after a backoff; a command arriving meanwhile waits for it."""
    limits = dataclasses.replace(FAST_SUPERVISION, backoff_min_s=1.0, backoff_max_s=1.0)
    live = LiveStation(live_settings(tmp_path, supervision=limits))
    try:
        client = live.client(timeout_s=8.0, retries=0)
        for kill in (1, 2):
            assert client.chaos_kill(1, "reservation") is True
            live.subscriber.wait_for(
                "station/supervision",
                lambda v, n=kill: (
                    v["actor"] == "reservation" and v["event"] == "crashed" and v["restarts"] >= n - 1
                ),
            )
            if kill == 1:
                restarted(live, 1, "reservation", 1)
        assert live.station.connector(1).tree.describe()["state"] == "restarting"  # the backoff runs
        assert client.chaos_kill(1, "reservation") is True  # waits, then reaches the new generation
        restarted(live, 1, "reservation", 3)
    finally:
        live.close()
