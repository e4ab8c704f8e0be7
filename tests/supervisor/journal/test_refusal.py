"""`evse-supervisor run` on a journal it cannot read: a clear error, exit 78, never a silent reset."""

from __future__ import annotations

import pathlib
import subprocess

from supervisor.journal import EXIT_CORRUPT
from tests.supervisor.cli.test_cli import ANY_ENDPOINT, STATION


def run_station(state_dir: pathlib.Path) -> subprocess.CompletedProcess[str]:
    argv = [STATION, "run", "--state-dir", str(state_dir)]
    argv += ["--command-endpoint", ANY_ENDPOINT, "--publish-endpoint", ANY_ENDPOINT]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_a_corrupt_journal_refuses_the_start_naming_the_file(tmp_path: pathlib.Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    (journal / "station.sqlite3").write_bytes(b"\x00garbage, not SQLite\x00" * 300)
    done = run_station(tmp_path)
    assert done.returncode == EXIT_CORRUPT == 78
    assert "station.sqlite3" in done.stderr and "move it away" in done.stderr
    assert (journal / "station.sqlite3").read_bytes().startswith(b"\x00garbage")  # left as it was


def test_a_state_dir_that_is_a_plain_file_refuses_the_start(tmp_path: pathlib.Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.write_text("a file")
    done = run_station(state_dir)
    assert done.returncode == 1  # the start checks refuse it before any journal is opened
    assert "is not a directory" in done.stderr and str(state_dir) in done.stderr
