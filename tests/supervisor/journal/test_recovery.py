"""A station started again on the same state_dir takes every connector up from its journal.

The station runs in this process on a fake clock with the embedded plant (a new plant for
each start, so the car is whatever the test plugs into it before the start); the journal
is real SQLite files under tmp_path.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors.messages import ReserveNow, SetLocalMaxCurrent
from drivers.clock import FakeClock
from supervisor.api.commands import check_args, lookup, message_of
from supervisor.config import load_config
from supervisor.station import Station
from tests.live import embedded
from tests.supervisor.station.test_station import Recording, settle

Starter = Callable[..., tuple[Station, Recording]]


@pytest.fixture
def start(tmp_path: pathlib.Path) -> Iterator[Starter]:
    started: list[Station] = []
    clock = FakeClock()

    def start_station(*, before: Callable[[Station], None] | None = None) -> tuple[Station, Recording]:
        if started:
            started[-1].stop()
        settings = dataclasses.replace(embedded(load_config(None)), state_dir=tmp_path)
        station = Station.build(settings, clock)
        recording = Recording()
        station.bus.attach(recording)
        if before is not None:
            before(station)
        station.start(ticker=False)
        settle(station)
        started.append(station)
        return station, recording

    yield start_station
    if started:
        started[-1].stop()


def call(station: Station, index: int, name: str, **args: Any) -> Any:
    """A connector command as the API runs it, then a few control cycles."""
    command = lookup(name)
    if command.route == "sim":
        result: Any = station.sim(index, name.removeprefix("sim_"), args)
    else:
        result = station.ask_session(index, message_of(command, check_args(command, args)), 5.0)
    settle(station)
    return result


def events(station: Station, index: int, since: int = 0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = station.events_since(index, since)["events"]
    return found


def names(found: list[dict[str, Any]]) -> list[str]:
    return [e["value"]["event"] for e in found]


def recovered(recording: Recording, index: int) -> list[str]:
    return [
        p["value"]["reason"]
        for t, p in recording.items
        if t == "station/supervision" and p["value"]["event"] == "recovered" and p["value"]["evse"] == index
    ]


def plug_in(times: int) -> Callable[[Station], None]:
    def plug(station: Station) -> None:
        controls = station.connector(1).plant.controls
        for _ in range(times):
            controls.unplug()
            assert controls.plug_in() is True

    return plug


def charging(start: Starter) -> tuple[Station, str]:
    station, _ = start()
    assert call(station, 1, "sim_plug_in") is True
    assert call(station, 1, "authorize", auth_token="CARD") is True
    assert station.connector(1).state_name().value == "Charging"
    session_uuid = station.connector(1).state.model.session_uuid
    return station, session_uuid


def test_the_same_car_still_there_takes_the_session_up(start: Starter) -> None:
    first, session_uuid = charging(start)
    before = events(first, 1)
    station, recording = start(before=plug_in(1))
    settle(station, 8)
    assert station.connector(1).state.model.session_uuid == session_uuid
    assert station.connector(1).state_name().value == "Charging"
    after = events(station, 1)
    assert after[: len(before)] == before  # every event once, across the restart
    assert names(after[len(before) :]) == ["ChargingResumed"]
    assert [e["event_seq"] for e in after] == list(range(1, len(after) + 1))
    assert recovered(recording, 1) == [f"session {session_uuid} taken up"]
    assert recovered(recording, 2) == ["no open session"]
    call(station, 1, "sim_unplug")
    finished = events(station, 1)[-1]["value"]
    assert finished["event"] == "SessionFinished" and finished["uuid"] == session_uuid


def test_a_car_gone_while_down_finishes_the_session(start: Starter) -> None:
    first, session_uuid = charging(start)
    last_seq = events(first, 1)[-1]["event_seq"]
    station, recording = start()
    new = events(station, 1, last_seq)
    assert names(new) == ["SessionFinished"] and new[0]["value"]["uuid"] == session_uuid
    assert new[0]["event_seq"] == last_seq + 1
    assert recovered(recording, 1) == [f"session {session_uuid} finished: the car left"]


def test_another_car_finishes_the_old_session_and_starts_a_new_one(start: Starter) -> None:
    first, session_uuid = charging(start)
    last_seq = events(first, 1)[-1]["event_seq"]
    station, _ = start(before=plug_in(2))
    new = events(station, 1, last_seq)
    assert names(new) == ["SessionFinished", "SessionStarted", "AuthRequired"]
    assert new[0]["value"]["uuid"] == session_uuid and new[1]["value"]["uuid"] != session_uuid


def test_disabled_faulted_limits_and_pre_authorization_survive(start: Starter) -> None:
    first, _ = start()
    assert call(first, 1, "disable") is True
    assert call(first, 2, "set_local_max_current", max_current=10.0) == "Success"
    assert call(first, 2, "authorize", auth_token="EARLY") is True
    station, _ = start()
    assert station.connector(1).state_name().value == "Disabled"
    assert station.connector(2).state.model.local_limit_a == 10.0
    assert call(station, 2, "sim_plug_in") is True
    started = names(events(station, 2))
    assert started[:2] == ["SessionStarted", "ChargingStarted"] and "AuthRequired" not in started
    assert call(station, 2, "set_faulted") is True
    again, _ = start()
    assert again.connector(2).state_name().value == "Faulted"


def test_a_reservation_is_kept_or_expires_by_wall_clock_time(start: Starter) -> None:
    first, _ = start()
    clock = first.clock
    assert isinstance(clock, FakeClock)
    for index, seconds in ((1, 30.0), (2, 3600.0)):
        reserve = ReserveNow(index, "R", clock.time() + seconds)
        assert first.ask_session(index, reserve, 5.0) == "Accepted"
    first.stop()
    clock.advance(60.0)
    station, _ = start()
    settle(station)
    assert names(events(station, 1)) == ["ReservationStart", "ReservationEnd"]
    assert events(station, 1)[-1]["value"]["reservation_end"]["reason"] == "Expired"
    assert names(events(station, 2)) == ["ReservationStart"]
    assert station.connector(2).state.reservation is not None


class CrashAfter:
    """A connector's journal that writes nothing more once a transaction `committed(fields, events)`
    names was committed: what a SIGKILL of its process right after that commit leaves on disk."""

    def __init__(self, journal: Any, committed: Callable[[Any, Any], bool]) -> None:
        self._journal, self._committed, self.crashed = journal, committed, False

    def write(self, fields: Any, events: Any = (), reply: Any = None, **options: Any) -> None:
        if self.crashed:
            return
        self._journal.write(fields, events, reply, **options)
        self.crashed = self._committed(fields, events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


def reserve_then_crash(start: Starter, committed: Callable[[Any, Any], bool]) -> Station:
    """Reserve evse 1 (id 7) with its journal crashing after `committed`; the station started again."""
    first, _ = start()
    state = first.connector(1).state
    state._journal = CrashAfter(state._journal, committed)
    assert first.ask_session(1, ReserveNow(7, "R", first.clock.time() + 3600.0), 5.0) == "Accepted"
    settle(first)
    assert state._journal.crashed
    station, _ = start()
    settle(station)
    return station


def test_a_crash_right_after_reserve_now_was_decided_starts_the_reservation_once(start: Starter) -> None:
    def decided(fields: Any, events: Any) -> bool:
        return any(type(output).__name__ == "StartReservation" for output in fields.get("outbox", ()))

    station = reserve_then_crash(start, decided)  # the outbox's StartReservation read back, carried out
    assert names(events(station, 1)) == ["ReservationStart"]
    reservation = station.connector(1).state.reservation
    assert reservation is not None and reservation.reservation_id == 7


def test_a_crash_right_after_reservation_start_was_written_never_starts_it_again(start: Starter) -> None:
    def started(fields: Any, events: Any) -> bool:
        return any(value.get("event") == "ReservationStart" for _, _, value in events)

    station = reserve_then_crash(start, started)
    assert names(events(station, 1)) == ["ReservationStart"]  # the outbox left with it
    reservation = station.connector(1).state.reservation
    assert reservation is not None and reservation.reservation_id == 7


def test_a_keyed_request_is_answered_from_the_journal_after_a_restart(start: Starter) -> None:
    first, _ = start()
    reply = first.ask_session(1, SetLocalMaxCurrent(12.0), 5.0, ("ops", 7))
    assert reply == "Success"
    station, _ = start()
    assert ("ops", 7, "Success") in station.stored_replies()


def test_event_seq_never_restarts(start: Starter) -> None:
    first, _ = start()
    call(first, 1, "disable")
    call(first, 1, "enable")
    station, _ = start()
    call(station, 1, "disable")
    assert [e["event_seq"] for e in events(station, 1)] == [1, 2, 3]
    assert station.journal_id == first.journal_id
