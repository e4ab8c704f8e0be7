"""One station per state dir: `state_dir/station.lock`, held with flock, holds the station's pid.

    lock = StateLock.acquire(state_dir)    # StartRefused naming the running station's pid
    ...
    lock.release()

    running_pid(state_dir)                  # the pid of the station holding it, or None

The file holds the pid alone on one line, so `kill -HUP $(cat state/station.lock)` works
as it does with a pid file. The lock is the kernel's: it goes with the process, so a
station killed with SIGKILL leaves a file that the next station simply takes over.
An empty or unlocked file means that no station runs there.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib

LOCK_NAME = "station.lock"


class StartRefused(Exception):
    """The station cannot start; the message is the one line the operator sees."""


def lock_path(state_dir: pathlib.Path) -> pathlib.Path:
    return state_dir / LOCK_NAME


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class StateLock:
    def __init__(self, fd: int, path: pathlib.Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, state_dir: pathlib.Path, name: str = LOCK_NAME, what: str = "station") -> StateLock:
        """Take the state dir's lock `name` and write our pid; StartRefused when another `what`
        (a station, a plant) holds it."""
        path = state_dir / name
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StartRefused(f"cannot create the lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            who = f"pid {pid}" if pid is not None else "another process"
            raise StartRefused(
                f"another {what} ({who}) runs on state dir {state_dir} (lock {path}); "
                f"stop it or give this one its own --state-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Empty the file and let go of the lock (idempotent).

        The file stays: removing it would let a station that opened it just before take a
        lock on a file that no longer has a name, while a third one creates a new file.
        """
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None


def running_pid(state_dir: pathlib.Path, name: str = LOCK_NAME) -> int | None:
    """The pid of the process that holds `state_dir`'s lock `name`; None when none holds it."""
    try:
        fd = os.open(state_dir / name, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        return None  # nobody holds it: a file left by a station that was killed
    finally:
        os.close(fd)
