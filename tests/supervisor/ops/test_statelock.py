"""One station per state dir: the lock file holds the pid; a second station is refused by it."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from supervisor.ops import StartRefused, StateLock, running_pid


def test_the_lock_holds_the_pid_and_refuses_a_second(tmp_path: pathlib.Path) -> None:
    lock = StateLock.acquire(tmp_path)
    try:
        assert (tmp_path / "station.lock").read_text() == f"{os.getpid()}\n"
        assert running_pid(tmp_path) == os.getpid()
        with pytest.raises(StartRefused, match=f"another station \\(pid {os.getpid()}\\) runs on state dir"):
            StateLock.acquire(tmp_path)
    finally:
        lock.release()
    assert running_pid(tmp_path) is None
    StateLock.acquire(tmp_path).release()


def test_a_killed_station_leaves_a_lock_the_next_one_takes(tmp_path: pathlib.Path) -> None:
    code = "import os, pathlib; from supervisor.ops import StateLock"
    code += f"; StateLock.acquire(pathlib.Path({str(tmp_path)!r}))"
    done = subprocess.run([sys.executable, "-c", code + "; os._exit(9)"], timeout=30)
    assert done.returncode == 9 and (tmp_path / "station.lock").read_text().strip().isdigit()
    assert running_pid(tmp_path) is None
    StateLock.acquire(tmp_path).release()


def test_no_lock_file_means_no_station(tmp_path: pathlib.Path) -> None:
    assert running_pid(tmp_path / "missing") is None
