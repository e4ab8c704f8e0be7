"""Meter checkpoints: journaled when an energy register moved, never for an idle connector's readings."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from actors.connector_state import ConnectorState
from actors.settings import ConnectorSettings
from drivers.base import MeterReading
from drivers.clock import FakeClock
from supervisor.journal import ConnectorJournal
from supervisor.tree import Lease

SETTINGS = ConnectorSettings(index=1, evse_id="DE*TST*E1*1")


class _Silent:
    def publish(self, variable: str, value: Any, *, event_seq: int | None = None) -> None:
        pass


@pytest.fixture
def journal(tmp_path: pathlib.Path) -> Iterator[ConnectorJournal]:
    opened = ConnectorJournal(tmp_path / "evse.sqlite3", FakeClock())
    yield opened
    opened.close()


def reading(ts: float, import_wh: float, export_wh: float = 0.0, power_w: float = 0.0) -> MeterReading:
    return MeterReading(ts, "SIM-1", import_wh, export_wh, power_w=(power_w, 0.0, 0.0))


def test_readings_that_move_no_register_write_nothing(journal: ConnectorJournal) -> None:
    state, lease = ConnectorState(SETTINGS, _Silent(), journal), Lease("meter", 1)
    state.set_last_reading(lease, reading(1.0, 100.0))
    written = journal.writes
    for second in range(2, 12):
        state.set_last_reading(lease, reading(float(second), 100.0))
    assert journal.writes == written
    assert state.last_reading == reading(11.0, 100.0)  # memory has the newest all the same


def test_each_register_that_moves_is_a_checkpoint(tmp_path: pathlib.Path) -> None:
    journal = ConnectorJournal(tmp_path / "evse.sqlite3", FakeClock())
    state, lease = ConnectorState(SETTINGS, _Silent(), journal), Lease("meter", 1)
    state.set_last_reading(lease, reading(1.0, 100.0))
    state.set_last_reading(lease, reading(2.0, 100.5, power_w=1800.0))
    state.set_last_reading(lease, reading(3.0, 100.5, 0.25))
    state.set_last_reading(lease, reading(4.0, 100.5, 0.25))
    assert journal.writes == 3
    journal.close()
    again = ConnectorJournal(tmp_path / "evse.sqlite3", FakeClock())
    restored = again.restore()
    again.close()
    assert restored is not None
    assert restored.last_reading == reading(3.0, 100.5, 0.25)  # what recovery falls back on


def test_a_register_that_went_back_is_not_taken(journal: ConnectorJournal) -> None:
    state, lease = ConnectorState(SETTINGS, _Silent(), journal), Lease("meter", 1)
    state.set_last_reading(lease, reading(1.0, 100.0))
    state.set_last_reading(lease, reading(2.0, 99.0))
    assert state.last_reading == reading(1.0, 100.0)
    assert journal.writes == 1


def test_a_stale_reading_is_not_to_be_published(journal: ConnectorJournal) -> None:
    """A report taken before the kept reading (it crossed a fresher call's reply) would make the
    published energy go back: set_last_reading says not to publish it."""
    state, lease = ConnectorState(SETTINGS, _Silent(), journal), Lease("meter", 1)
    assert state.set_last_reading(lease, reading(10.0, 100.0)) is True
    assert state.set_last_reading(lease, reading(9.999, 99.9)) is False
    assert state.last_reading == reading(10.0, 100.0)


def test_a_later_reading_whose_register_went_back_is_still_published(journal: ConnectorJournal) -> None:
    """A meter replaced starts again from a lower register: its readings are published (not kept)."""
    state, lease = ConnectorState(SETTINGS, _Silent(), journal), Lease("meter", 1)
    state.set_last_reading(lease, reading(10.0, 100.0))
    assert state.set_last_reading(lease, reading(11.0, 2.0)) is True
    assert state.last_reading == reading(10.0, 100.0)
