"""One connector's journal: its state, its session event log and its stored replies, in one file.

Implements `actors.ports.Journal`. Writes are single transactions; session events and
replies are synced to disk (`synchronous=FULL`) before `write` returns, meter checkpoints
may be written with `synchronous=NORMAL`. Reads of the event log use their own connection,
so a long `get_events` never holds up a write (WAL: readers do not block the writer).
"""

from __future__ import annotations

import json
import pathlib
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from actors.ports import JournalWriteFailed, LoggedRow, ReplyKey, Restored
from drivers.clock import Clock
from supervisor.journal import codec, kill_hook
from supervisor.journal.database import JournalCorrupt, open_database

EVENTS_KEPT = 10_000  # the newest events kept at least
REPLIES_KEPT = 10_000  # the newest replies kept at least ...
REPLY_TTL_S = 60.0  # ... and every reply younger than this
_PRUNE_EVERY = 500
_BUSY_TIMEOUT_MS = 500  # only another process holding the file could make a write wait

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (event_seq INTEGER PRIMARY KEY, ts REAL NOT NULL, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    client TEXT NOT NULL, request_id TEXT NOT NULL, result TEXT NOT NULL, stored_at REAL NOT NULL,
    PRIMARY KEY (client, request_id)
);
"""
StoredReply = tuple[str, int | str, Any]  # client, request id, result


class ConnectorJournal:
    def __init__(self, path: pathlib.Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._db = open_database(path, SCHEMA)
        self._db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._durable = True
        self._writes = 0
        self.writes = 0  # committed writes, for the metrics
        self.write_failures = 0
        self._encoders: dict[str, Callable[[Any], Any]] = {
            "model": lambda model: codec.model_record(model, clock),
            "reservation": codec.reservation_record,
            "outbox": codec.outbox_record,
            "last_reading": codec.reading_record,
            "plug_count": lambda count: count,
            "last_event_seq": lambda seq: seq,
        }

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._reader.close()
            self._db.close()

    # --- writes -------------------------------------------------------------------------

    def write(
        self,
        fields: Mapping[str, Any],
        events: Sequence[LoggedRow] = (),
        reply: tuple[ReplyKey, Any] | None = None,
        *,
        durable: bool = True,
    ) -> None:
        rows = [(name, codec.dumps(self._encoders[name](value))) for name, value in fields.items()]
        if events:
            rows.append(("last_event_seq", str(events[-1][0])))
        event_rows = [(seq, ts, codec.dumps(value)) for seq, ts, value in events]
        with self._lock:
            try:
                self._set_durable(durable or bool(events) or reply is not None)
                self._transaction(rows, event_rows, reply)
            except (sqlite3.Error, ValueError) as exc:
                self._rollback()
                self.write_failures += 1
                raise JournalWriteFailed(f"the journal {self.path} was not written: {exc}") from exc
            self._writes += 1
            self.writes += 1
            if self._writes % _PRUNE_EVERY == 0:
                self._prune()
        kill_hook.after_commit(fields.get("outbox"))

    def _transaction(
        self,
        rows: list[tuple[str, str]],
        events: list[tuple[int, float, str]],
        reply: tuple[ReplyKey, Any] | None,
    ) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        if rows:
            db.executemany("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", rows)
        if events:
            db.executemany("INSERT INTO events (event_seq, ts, value) VALUES (?, ?, ?)", events)
        if reply is not None:
            (client, request_id), result = reply
            db.execute(
                "INSERT OR REPLACE INTO replies (client, request_id, result, stored_at) VALUES (?, ?, ?, ?)",
                (client, codec.dumps(request_id), codec.dumps(result), time.time()),
            )
        db.execute("COMMIT")

    def _set_durable(self, durable: bool) -> None:
        if durable != self._durable:
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._durable = durable

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _prune(self) -> None:
        """Old events beyond the newest EVENTS_KEPT, old replies beyond REPLIES_KEPT and REPLY_TTL_S."""
        try:
            self._db.execute(
                "DELETE FROM events WHERE event_seq <= (SELECT MAX(event_seq) FROM events) - ?",
                (EVENTS_KEPT,),
            )
            self._db.execute(
                "DELETE FROM replies WHERE stored_at < ? AND rowid <= (SELECT MAX(rowid) FROM replies) - ?",
                (time.time() - REPLY_TTL_S, REPLIES_KEPT),
            )
        except sqlite3.Error:
            return  # tried again at the next round

    # --- reads --------------------------------------------------------------------------

    def restore(self) -> Restored | None:
        with self._lock:
            try:
                state = {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM state")}
                recent = self._db.execute(
                    "SELECT event_seq, ts, value FROM events ORDER BY event_seq DESC LIMIT ?", (EVENTS_KEPT,)
                ).fetchall()
            except (sqlite3.Error, ValueError) as exc:
                raise JournalCorrupt(f"the journal {self.path} cannot be read ({exc}); move it away") from exc
        if not state and not recent:
            return None
        try:
            return self._restored(state, recent)
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalCorrupt(
                f"the journal {self.path} holds a state this station cannot read ({exc!r}); move it away"
            ) from exc

    def _restored(self, state: dict[str, Any], recent: list[tuple[int, float, str]]) -> Restored:
        events = tuple((seq, ts, json.loads(value)) for seq, ts, value in reversed(recent))
        last_seq = max(int(state.get("last_event_seq", 0)), events[-1][0] if events else 0)
        model = state.get("model")
        return Restored(
            model=None if model is None else codec.model_from(model, self._clock),
            reservation=codec.reservation_from(state.get("reservation")),
            outbox=codec.outbox_from(state.get("outbox", [])),
            last_reading=codec.reading_from(state.get("last_reading")),
            plug_count=state.get("plug_count"),
            last_event_seq=last_seq,
            recent_events=events,
        )

    def events_since(self, since: int, limit: int) -> list[LoggedRow]:
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT event_seq, ts, value FROM events WHERE event_seq > ? ORDER BY event_seq LIMIT ?",
                (since, limit),
            ).fetchall()
        return [(seq, ts, json.loads(value)) for seq, ts, value in rows]

    def reply(self, key: ReplyKey) -> tuple[Any] | None:
        """The reply stored for `key` (read where the writes are, so it is there once committed)."""
        client, request_id = key
        with self._lock:
            row = self._db.execute(
                "SELECT result FROM replies WHERE client = ? AND request_id = ?",
                (client, codec.dumps(request_id)),
            ).fetchone()
        return None if row is None else (json.loads(row[0]),)

    def stored_replies(self) -> list[StoredReply]:
        """The replies still kept, oldest first (to answer retries after a restart)."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT client, request_id, result FROM replies WHERE stored_at >= ? "
                "OR rowid > (SELECT MAX(rowid) FROM replies) - ? ORDER BY rowid",
                (time.time() - REPLY_TTL_S, REPLIES_KEPT),
            ).fetchall()
        return [(client, json.loads(request_id), json.loads(result)) for client, request_id, result in rows]
