"""The operator's station limit survives a restart in the station journal (a real SQLite file)."""

from __future__ import annotations

import pathlib

import pytest

from drivers.clock import FakeClock
from supervisor.energy.store import KEY, JournalLimitStore
from supervisor.journal import StationJournal


def journal(state_dir: pathlib.Path) -> StationJournal:
    return StationJournal.open(state_dir, FakeClock(), ["DE*TST*E1"])


def test_a_saved_limit_is_read_back_after_the_journal_is_reopened(tmp_path: pathlib.Path) -> None:
    first = journal(tmp_path)
    assert JournalLimitStore(first).load() is None
    JournalLimitStore(first).save(40.0)
    JournalLimitStore(first).save(25.5)
    first.close()
    again = journal(tmp_path)
    try:
        assert JournalLimitStore(again).load() == 25.5
    finally:
        again.close()


@pytest.mark.parametrize("value", ["32", -1, True, [20]])
def test_a_stored_value_that_is_no_limit_is_reported_and_ignored(
    tmp_path: pathlib.Path, value: object, caplog: pytest.LogCaptureFixture
) -> None:
    opened = journal(tmp_path)
    try:
        opened.put(KEY, value)
        assert JournalLimitStore(opened).load() is None
        assert KEY in caplog.text
    finally:
        opened.close()
