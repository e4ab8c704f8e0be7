"""The station's journal and the journal directory: one file per connector and one for the station.

    journals = StationJournal.open(state_dir, clock, evse_ids)   # JournalError: refuse to start
    journals.journal_id, journals.first_boot
    journals.connector(index)        # that connector's ConnectorJournal
    journals.get("key"), journals.put("key", value)   # small station values (JSON)
    open_journal_database(state_dir, "ocpp", schema)  # another package's own file beside them

The station file holds the `journal_id` (a new one on a first boot, shown by `ping` and
`status`, so that a client can tell that `event_seq` started again) and a small key/value
table for station settings that must outlive a restart (e.g. a runtime current limit).
"""

from __future__ import annotations

import json
import logging
import pathlib
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from actors.ports import JournalWriteFailed
from drivers.clock import Clock
from supervisor.journal.connector import ConnectorJournal, StoredReply
from supervisor.journal.database import file_name, journal_dir, open_database

log = logging.getLogger(__name__)

OPEN_THREADS = 8  # connector files opened side by side: most of an open is SQLite's own I/O, off the GIL

STATION_FILE = "station.sqlite3"
_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


def open_journal_database(state_dir: pathlib.Path, name: str, schema: str) -> sqlite3.Connection:
    """A database of its own under `state_dir/journal/` (`<name>.sqlite3`), opened as the journal's are."""
    return open_database(journal_dir(state_dir) / file_name(name), schema)


class StationJournal:
    def __init__(
        self, db: sqlite3.Connection, path: pathlib.Path, connectors: dict[int, ConnectorJournal]
    ) -> None:
        self.path = path
        self._db = db
        self._lock = threading.Lock()
        self._connectors = connectors
        found = self.get("journal_id")
        self.first_boot = found is None
        self.journal_id: str = found if isinstance(found, str) else uuid.uuid4().hex
        if self.first_boot:
            self.put("journal_id", self.journal_id)

    @classmethod
    def open(
        cls,
        state_dir: pathlib.Path,
        clock: Clock,
        evse_ids: Sequence[str],
        indexes: Sequence[int] | None = None,
    ) -> StationJournal:
        """Open (or create) every file; JournalError (corrupt, or no state_dir) refuses the start.

        `indexes`: the connectors' indexes (1, 2, ... by default; a worker process opens its own share)."""
        directory = journal_dir(state_dir)
        station_path = directory / STATION_FILE
        fresh = not station_path.exists()
        db = open_database(station_path, _SCHEMA)
        paths = [directory / file_name(f"evse-{evse_id}") for evse_id in evse_ids]
        with ThreadPoolExecutor(OPEN_THREADS, thread_name_prefix="journal-open") as pool:
            opened = list(pool.map(lambda path: ConnectorJournal(path, clock), paths))
        numbers = range(1, len(opened) + 1) if indexes is None else indexes
        journal = cls(db, station_path, dict(zip(numbers, opened, strict=True)))
        if fresh:
            log.info("no journal in %s: a first boot, journal_id %s", directory, journal.journal_id)
        else:
            log.info("journal %s in %s taken up", journal.journal_id, directory)
        return journal

    def connector(self, index: int) -> ConnectorJournal:
        return self._connectors[index]

    def get(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        """Store a small JSON value, synced to disk; JournalWriteFailed if it could not be."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, json.dumps(value))
                )
            except sqlite3.Error as exc:
                raise JournalWriteFailed(f"the journal {self.path} was not written: {exc}") from exc

    def stored_replies(self) -> list[StoredReply]:
        return [reply for journal in self._connectors.values() for reply in journal.stored_replies()]

    def close(self) -> None:
        for journal in self._connectors.values():
            journal.close()
        with self._lock:
            self._db.close()
