"""The bridge's journal: transaction messages queued in order, open transactions, the auth cache,
and what the central system set that outlives a restart (configuration keys, scheduled
availability, charging profiles) as JSON values by key.

One SQLite file (`state_dir/journal/ocpp.sqlite3`, opened as the journal's files are: WAL,
`synchronous=FULL`, a schema version, a corrupt file refused with JournalCorrupt), written before
anything that depends on it is sent, so a station restart loses no StartTransaction,
StopTransaction or transaction MeterValues and sends none twice once its answer was
recorded. A transaction is known by its session's uuid until the central system gives it
its transactionId; queued messages of that transaction get the id when they are sent.
Opened by the station's thread, then used from one thread only (the bridge's worker).
"""

from __future__ import annotations

import json
import pathlib
import sqlite3
from dataclasses import dataclass
from typing import Any

from supervisor.journal import open_journal_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tx TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS transactions (
    tx TEXT PRIMARY KEY,
    connector INTEGER NOT NULL,
    id_tag TEXT NOT NULL,
    meter_start_wh INTEGER NOT NULL,
    begin_signed TEXT,
    transaction_id INTEGER,
    stopped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kept (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_cache (
    id_tag TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    parent_id_tag TEXT,
    expiry_s REAL
);
"""
NAME = "ocpp"  # state_dir/journal/ocpp.sqlite3
Message = tuple[str, dict[str, Any]]  # an action (StartTransaction, ...) and its payload


@dataclass(frozen=True)
class Transaction:
    tx: str  # the session's uuid
    connector: int
    id_tag: str
    meter_start_wh: int
    begin_signed: str | None = None
    transaction_id: int | None = None
    stopped: bool = False


@dataclass(frozen=True)
class Queued:
    seq: int
    tx: str
    action: str  # StartTransaction, StopTransaction or MeterValues
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class CachedTag:
    status: str
    parent_id_tag: str | None
    expiry_s: float | None  # Unix seconds


class Store:
    def __init__(self, state_dir: pathlib.Path) -> None:
        """Open (or create) the file; JournalError (corrupt, no state_dir) refuses the start."""
        self._db: sqlite3.Connection = open_journal_database(state_dir, NAME, SCHEMA)

    def close(self) -> None:
        self._db.close()

    # --- transactions ------------------------------------------------------------------------

    def open_transaction(self, transaction: Transaction, messages: list[Message]) -> bool:
        """Record a new transaction and queue its first messages; False if it is known already."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._row(transaction.tx) is not None:
                return False
            self._db.execute(
                "INSERT INTO transactions (tx, connector, id_tag, meter_start_wh, begin_signed)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    transaction.tx,
                    transaction.connector,
                    transaction.id_tag,
                    transaction.meter_start_wh,
                    transaction.begin_signed,
                ),
            )
            for action, payload in messages:
                self._enqueue(transaction.tx, action, payload)
        return True

    def stop_transaction(self, tx: str, messages: list[Message]) -> bool:
        """Queue the last messages of an open transaction; False if it is unknown or stopped."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            found = self._row(tx)
            if found is None or found.stopped:
                return False
            self._db.execute("UPDATE transactions SET stopped = 1 WHERE tx = ?", (tx,))
            for action, payload in messages:
                self._enqueue(tx, action, payload)
        return True

    def enqueue(self, tx: str, action: str, payload: dict[str, Any]) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._enqueue(tx, action, payload)

    def _enqueue(self, tx: str, action: str, payload: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO queue (tx, action, payload) VALUES (?, ?, ?)", (tx, action, json.dumps(payload))
        )

    def transaction(self, tx: str) -> Transaction | None:
        return self._row(tx)

    def open_transactions(self) -> list[Transaction]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM transactions WHERE stopped = 0 ORDER BY rowid")
        return [_transaction(row) for row in rows]

    def set_transaction_id(self, tx: str, transaction_id: int) -> None:
        with self._db:
            self._db.execute("UPDATE transactions SET transaction_id = ? WHERE tx = ?", (transaction_id, tx))

    def _row(self, tx: str) -> Transaction | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM transactions WHERE tx = ?", (tx,)).fetchone()
        return None if row is None else _transaction(row)

    # --- the queue ---------------------------------------------------------------------------

    def head(self) -> Queued | None:
        """The oldest queued message."""
        row = self._db.execute(
            "SELECT seq, tx, action, payload, attempts FROM queue ORDER BY seq LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return Queued(row[0], row[1], row[2], json.loads(row[3]), row[4])

    def starting_connectors(self) -> set[int]:
        """The connectors with a StartTransaction still in the queue."""
        rows = self._db.execute(
            "SELECT DISTINCT t.connector FROM queue q JOIN transactions t ON q.tx = t.tx"
            " WHERE q.action = 'StartTransaction'"
        )
        return {row[0] for row in rows}

    def length(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]
        return count

    def sent(self, message: Queued) -> None:
        """The central system answered `message`: it leaves the queue; a stop ends its transaction."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM queue WHERE seq = ?", (message.seq,))
            if message.action == "StopTransaction":
                self._db.execute("DELETE FROM transactions WHERE tx = ?", (message.tx,))

    def failed(self, message: Queued) -> int:
        """One more failed attempt at `message`; the number of attempts so far."""
        with self._db:
            self._db.execute("UPDATE queue SET attempts = attempts + 1 WHERE seq = ?", (message.seq,))
        return message.attempts + 1

    def drop_transaction(self, tx: str) -> int:
        """Give up on a transaction: its queued messages and its record go; how many messages went."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            dropped = self._db.execute("DELETE FROM queue WHERE tx = ?", (tx,)).rowcount
            self._db.execute("DELETE FROM transactions WHERE tx = ?", (tx,))
        return dropped

    # --- the authorization cache -------------------------------------------------------------

    def cached_tags(self) -> dict[str, CachedTag]:
        rows = self._db.execute("SELECT id_tag, status, parent_id_tag, expiry_s FROM auth_cache")
        return {row[0]: CachedTag(row[1], row[2], row[3]) for row in rows}

    def cache_tag(self, id_tag: str, tag: CachedTag) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO auth_cache (id_tag, status, parent_id_tag, expiry_s)"
                " VALUES (?, ?, ?, ?)",
                (id_tag, tag.status, tag.parent_id_tag, tag.expiry_s),
            )

    def clear_cache(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM auth_cache")

    # --- kept values (configuration, scheduled availability, charging profiles) -------------

    def kept(self, prefix: str) -> dict[str, Any]:
        """Every kept value whose key starts with `prefix`, by key."""
        rows = self._db.execute(
            "SELECT key, value FROM kept WHERE key >= ? AND key < ?", (prefix, prefix + "\uffff")
        )
        return {row[0]: json.loads(row[1]) for row in rows}

    def keep(self, key: str, value: Any) -> None:
        """Keep `value` (JSON) under `key`; None forgets the key."""
        with self._db:
            if value is None:
                self._db.execute("DELETE FROM kept WHERE key = ?", (key,))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO kept (key, value) VALUES (?, ?)", (key, json.dumps(value))
                )


_COLUMNS = "tx, connector, id_tag, meter_start_wh, begin_signed, transaction_id, stopped"


def _transaction(row: tuple[Any, ...]) -> Transaction:
    return Transaction(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))
