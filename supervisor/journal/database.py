"""Opening the journal's SQLite files: WAL, full sync, a schema version, a clear refusal when broken.

Every file lives under `state_dir/journal/` and ends in `.sqlite3`. A file that is not a
database, fails SQLite's quick check or carries another schema version is refused with a
`JournalCorrupt` naming it and saying what to do; the station then exits with code 78
(EX_CONFIG), so a supervisor such as systemd does not restart it into the same wall.
"""

from __future__ import annotations

import pathlib
import re
import sqlite3

SCHEMA_VERSION = 1
EXIT_CORRUPT = 78  # EX_CONFIG
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class JournalError(Exception):
    """The journal cannot be used: the station must not start on it."""


class JournalCorrupt(JournalError):
    """A journal file that is not a readable journal of this version."""


def journal_dir(state_dir: pathlib.Path) -> pathlib.Path:
    """`state_dir/journal/`, created if missing; JournalError when state_dir is not a directory."""
    for path in (state_dir, state_dir / "journal"):
        if path.exists() and not path.is_dir():
            raise JournalError(
                f"{path} is not a directory; the state_dir must be a directory "
                "(move the file away or choose another --state-dir)"
            )
    directory = state_dir / "journal"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(f"cannot create the journal directory {directory}: {exc}") from exc
    return directory


def file_name(name: str) -> str:
    """A file name for a journal named `name` (an evse_id may hold `*` or `/`)."""
    return _SAFE_NAME.sub("_", name) + ".sqlite3"


def open_database(path: pathlib.Path, schema: str, *, version: int = SCHEMA_VERSION) -> sqlite3.Connection:
    """Open (or create) one journal file in WAL mode with `synchronous=FULL` and `schema` applied.

    Usable from any thread (callers hold their own lock). Raises JournalCorrupt for a file
    that SQLite cannot read, that fails its quick check, or whose version differs.
    """
    existed = path.exists() and path.stat().st_size > 0
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
    except sqlite3.Error as exc:
        raise JournalCorrupt(_refusal(path, str(exc))) from exc
    try:
        _check(db, path, existed, version)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
        if not existed:
            db.execute(f"PRAGMA user_version={int(version)}")
    except sqlite3.DatabaseError as exc:
        db.close()
        raise JournalCorrupt(_refusal(path, str(exc))) from exc
    except JournalError:
        db.close()
        raise
    return db


def _check(db: sqlite3.Connection, path: pathlib.Path, existed: bool, version: int) -> None:
    if not existed:
        return
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found != version:
        raise JournalCorrupt(_refusal(path, f"schema version {found}, this station reads version {version}"))
    verdict = db.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise JournalCorrupt(_refusal(path, f"quick check failed: {verdict}"))


def _refusal(path: pathlib.Path, what: str) -> str:
    return (
        f"the journal {path} cannot be read ({what}); move it away (and its -wal and -shm files) "
        "to start that part afresh, or restore it from a backup"
    )
