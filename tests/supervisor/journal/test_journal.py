"""The journal's files: what is written comes back after a reopen, broken files are refused clearly."""

from __future__ import annotations

import pathlib
import sqlite3
from collections.abc import Iterator

import pytest

from actors.model import (
    Emit,
    EndReservation,
    Error,
    Model,
    PhaseSwitch,
    PreAuth,
    Reservation,
    Session,
    SessionEvent,
    Unlock,
)
from actors.ports import JournalWriteFailed
from drivers.base import CPState, MeterReading
from drivers.clock import FakeClock
from supervisor.journal import (
    ConnectorJournal,
    JournalCorrupt,
    JournalError,
    StationJournal,
    open_journal_database,
)
from supervisor.journal.database import SCHEMA_VERSION


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def journal(tmp_path: pathlib.Path, clock: FakeClock) -> Iterator[ConnectorJournal]:
    opened = ConnectorJournal(tmp_path / "evse.sqlite3", clock)
    yield opened
    opened.close()


def a_model(clock: FakeClock) -> Model:
    session = Session(uuid="u-1", token="TOKEN", authorized=True, start_energy_wh=12.5)
    pre_auth = PreAuth("NEXT", None, clock.monotonic() + 30.0)
    return Model(
        local_limit_a=10.0,
        three_phases=False,
        plugged=True,
        cp=CPState.C,
        errors=frozenset({Error.RCD}),
        session=session,
        pre_auth=pre_auth,
        overdraw_since=clock.monotonic(),
    )


def test_a_fresh_journal_restores_nothing(journal: ConnectorJournal) -> None:
    assert journal.restore() is None


def test_the_state_comes_back_after_a_reopen(
    tmp_path: pathlib.Path, journal: ConnectorJournal, clock: FakeClock
) -> None:
    model = a_model(clock)
    reservation = Reservation(7, "TOKEN", clock.time() + 100.0, "PARENT")
    outbox = (
        Emit(SessionEvent.SessionFinished, "u-1", token="TOKEN"),
        EndReservation("Expired"),
        Unlock(),
        PhaseSwitch(False),
    )
    reading = MeterReading(clock.time(), "SIM-1", 1234.5, current_a=(1.0, 2.0, 3.0))
    journal.write(
        {
            "model": model,
            "reservation": reservation,
            "outbox": outbox,
            "last_reading": reading,
            "plug_count": 3,
        }
    )
    journal.close()
    clock.advance(10.0)
    restored = ConnectorJournal(tmp_path / "evse.sqlite3", clock).restore()
    assert restored is not None
    assert restored.model is not None
    assert restored.model.session == model.session
    assert restored.model.errors == {Error.RCD} and restored.model.cp is CPState.C
    assert restored.model.overdraw_since is None  # a timer of one process only
    assert restored.model.pre_auth is not None
    assert restored.model.pre_auth.expires_at == pytest.approx(clock.monotonic() + 20.0)  # wall-clock expiry
    assert restored.reservation == reservation
    assert restored.outbox == outbox
    assert restored.last_reading == reading
    assert restored.plug_count == 3


def test_event_seq_continues_and_old_events_are_read_back(tmp_path: pathlib.Path, clock: FakeClock) -> None:
    path = tmp_path / "evse.sqlite3"
    first = ConnectorJournal(path, clock)
    for seq in range(1, 6):
        first.write({}, [(seq, float(seq), {"event": "Enabled", "n": seq})])
    first.close()
    again = ConnectorJournal(path, clock)
    restored = again.restore()
    assert restored is not None and restored.last_event_seq == 5
    assert [row[0] for row in again.events_since(2, 100)] == [3, 4, 5]
    assert again.events_since(0, 2)[1] == (2, 2.0, {"event": "Enabled", "n": 2})
    with pytest.raises(JournalWriteFailed, match="UNIQUE"):  # an event_seq is never written twice
        again.write({}, [(5, 6.0, {"event": "Disabled"})])
    again.close()


def test_a_write_that_fails_changes_nothing_and_later_writes_succeed(
    tmp_path: pathlib.Path, journal: ConnectorJournal, clock: FakeClock
) -> None:
    journal.write({"plug_count": 1})
    blocker = sqlite3.connect(tmp_path / "evse.sqlite3", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the file: this write cannot happen
    with pytest.raises(JournalWriteFailed, match=r"evse\.sqlite3"):
        journal.write({"plug_count": 2}, [(1, 1.0, {"event": "Enabled"})])
    blocker.execute("ROLLBACK")
    blocker.close()
    restored = journal.restore()
    assert restored is not None and restored.plug_count == 1 and restored.last_event_seq == 0
    journal.write({"plug_count": 2})
    restored = journal.restore()
    assert restored is not None and restored.plug_count == 2


def test_replies_are_kept_with_their_change(journal: ConnectorJournal, clock: FakeClock) -> None:
    journal.write({"model": a_model(clock)}, reply=(("ops", 41), "Success"))
    journal.write({}, reply=(("ops", "x-2"), {"a": [1, True]}))
    assert journal.stored_replies() == [("ops", 41, "Success"), ("ops", "x-2", {"a": [1, True]})]
    assert journal.reply(("ops", 41)) == ("Success",)
    assert journal.reply(("ops", "x-2")) == ({"a": [1, True]},)
    assert journal.reply(("ops", "41")) is None and journal.reply(("other", 41)) is None
    journal.write({}, reply=(("ops", 43), None))
    assert journal.reply(("ops", 43)) == (None,)  # a reply of None is a reply


def test_a_file_that_is_not_a_database_is_refused(tmp_path: pathlib.Path, clock: FakeClock) -> None:
    path = tmp_path / "evse.sqlite3"
    path.write_bytes(b"this is not a database, it is garbage " * 200)
    with pytest.raises(JournalCorrupt, match=r"evse\.sqlite3.*move it away"):
        ConnectorJournal(path, clock)


def test_a_journal_of_another_version_is_refused(tmp_path: pathlib.Path, clock: FakeClock) -> None:
    ConnectorJournal(tmp_path / "evse.sqlite3", clock).close()
    db = sqlite3.connect(tmp_path / "evse.sqlite3")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(JournalCorrupt, match=f"schema version {SCHEMA_VERSION + 1}"):
        ConnectorJournal(tmp_path / "evse.sqlite3", clock)


def test_a_state_dir_that_is_a_file_is_refused(tmp_path: pathlib.Path, clock: FakeClock) -> None:
    state_dir = tmp_path / "state"
    state_dir.write_text("not a directory")
    with pytest.raises(JournalError, match="is not a directory"):
        StationJournal.open(state_dir, clock, ["E1"])


def test_a_missing_journal_is_a_first_boot_with_a_new_journal_id(
    tmp_path: pathlib.Path, clock: FakeClock
) -> None:
    first = StationJournal.open(tmp_path, clock, ["DE*PNX*E1*1", "DE*PNX*E1*2"])
    assert first.first_boot
    first.put("grid_limit_a", 63.0)
    first.close()
    again = StationJournal.open(tmp_path, clock, ["DE*PNX*E1*1", "DE*PNX*E1*2"])
    assert not again.first_boot and again.journal_id == first.journal_id
    assert again.get("grid_limit_a") == 63.0
    again.close()
    assert sorted(p.name for p in (tmp_path / "journal").glob("*.sqlite3")) == [
        "evse-DE_PNX_E1_1.sqlite3",
        "evse-DE_PNX_E1_2.sqlite3",
        "station.sqlite3",
    ]
    for path in (tmp_path / "journal").iterdir():
        path.unlink()
    fresh = StationJournal.open(tmp_path, clock, ["DE*PNX*E1*1"])
    assert fresh.first_boot and fresh.journal_id != first.journal_id
    fresh.close()


def test_another_package_opens_its_own_file_beside_the_journal(tmp_path: pathlib.Path) -> None:
    db = open_journal_database(tmp_path, "ocpp", "CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY);")
    db.execute("INSERT INTO queue (id) VALUES (1)")
    db.close()
    again = open_journal_database(
        tmp_path, "ocpp", "CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY);"
    )
    assert again.execute("SELECT id FROM queue").fetchall() == [(1,)]
    assert again.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()
