"""The station's logging, configured in one place: format, destination, level, tracebacks.

    logs = configure_logging(level="INFO", fmt="text", file=None)   # stderr, or a file
    logs.reopen()          # SIGUSR2: reopen the file after logrotate moved it (as supervisord does)
    logs.set_level("DEBUG")
    logs.ring.read(since=cursor)   # the recent lines, kept in memory (the `logs` command)

Lines carry the connector they are about: a record made with `extra=about(index, evse_id)`
shows `evse 1 (DE*PNX*E123456*1)` in text and `"evse": 1, "evse_id": ...` in JSON.
A failure's traceback (pykka logs one for every actor that dies) is shown once per
distinct failure, at DEBUG; the station's own supervision line says what happened.
"""

from __future__ import annotations

import logging
import pathlib
import sys
import threading
import traceback
from collections import deque
from typing import Any, Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from supervisor.config.loader import LOG_LEVELS

LogFormat = Literal["text", "json"]
_OURS = "evse_supervisor_handler"
_SHOWN = "evse_supervisor_traceback_shown"
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
ROOT_LOGGER = "evse_supervisor"
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(about)s%(message)s"
_JSON = "%(asctime)s %(levelname)s %(name)s %(message)s"
_JSON_RENAMES = {"asctime": "ts", "levelname": "level", "name": "logger"}
# The actor side of supervision logs each death without the connector; the station logs it
# once, from the supervision event, with the connector's index and evse_id.
# The ocpp library logs every message at INFO.
_QUIETER = {"pykka": logging.WARNING, "supervisor.tree.supervised": logging.ERROR, "ocpp": logging.WARNING}


def parse_level(text: str) -> int:
    """A level name (any case) as a number; ValueError naming the allowed levels."""
    name = text.strip().upper()
    if name not in LOG_LEVELS:
        raise ValueError(f"unknown log level {text!r}; use one of {', '.join(LOG_LEVELS)}")
    return logging.getLevelNamesMapping()[name]


def about(index: int | None, evse_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """`extra=` for a record about one connector (index from 1) and any more structured fields."""
    return {"evse": index, "evse_id": evse_id, **fields}


class _About(logging.Filter):
    """Fills `%(about)s` for the text format: the connector a record is about, or nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        index = getattr(record, "evse", None)
        evse_id = getattr(record, "evse_id", None)
        worker = getattr(record, "worker", None)
        about = "" if worker is None else f"worker {worker}: "
        if index is not None:
            about += f"evse {index} ({evse_id}): " if evse_id else f"evse {index}: "
        record.about = about
        return True


class TracebackOnce(logging.Filter):
    """A traceback is shown once per distinct failure, and only when DEBUG is on.

    A failure is known by its exception type and the place it was raised (file and line),
    so a chaos run of a thousand kills shows one traceback, not a thousand. pykka's line for
    a dead actor is dropped besides (the supervision line says it, with the connector); any
    other line keeps its level and says the exception in one line instead of a traceback.
    Records are never changed: other handlers (a test's capture) see them as they were.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def shown(self, record: logging.LogRecord) -> bool:
        """Whether this record's traceback is shown (decided once per record)."""
        decided: bool | None = getattr(record, _SHOWN, None)
        if decided is not None:
            return decided
        exc_type, _, tb = record.exc_info or (None, None, None)
        frames = traceback.extract_tb(tb) if tb is not None else []
        where = (frames[-1].filename, frames[-1].lineno or 0) if frames else ("", 0)
        key = (getattr(exc_type, "__qualname__", "?"), *where)
        with self._lock:
            decided = key not in self._seen and logging.getLogger().isEnabledFor(logging.DEBUG)
            if decided:
                self._seen.add(key)
        setattr(record, _SHOWN, decided)
        return decided

    def filter(self, record: logging.LogRecord) -> bool:
        if _has_exception(record) and _from_pykka(record):
            return self.shown(record)
        return True


class _OnceFormatter(logging.Formatter):
    """Formats with `inner`; a record's traceback only when `TracebackOnce` shows it."""

    def __init__(self, inner: logging.Formatter, once: TracebackOnce) -> None:
        super().__init__()
        self._inner = inner
        self._once = once

    def format(self, record: logging.LogRecord) -> str:
        if _has_exception(record):
            record = logging.makeLogRecord(dict(record.__dict__))
            if _from_pykka(record):  # shown, or the filter dropped it
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            elif not self._once.shown(record):
                exc_type, exc, _ = record.exc_info or (None, None, None)
                name = exc_type.__name__ if exc_type is not None else "?"
                record.msg, record.args = f"{record.getMessage()}: {name}: {exc}", None
                record.exc_info, record.exc_text = None, None
        return self._inner.format(record)


_PORTABLE = ("name", "levelno", "levelname", "created", "msecs", "threadName", "evse", "evse_id")


def portable(record: logging.LogRecord, once: TracebackOnce) -> dict[str, Any] | None:
    """The record as plain fields for another process's log (a worker's lines to its root):
    its message formatted, its traceback text only when `once` shows it; None when dropped."""
    fields = {name: getattr(record, name) for name in _PORTABLE if hasattr(record, name)}
    fields["msg"] = record.getMessage()
    if _has_exception(record):
        if not once.shown(record):
            if _from_pykka(record):
                return None
            exc_type, exc, _ = record.exc_info or (None, None, None)
            name = exc_type.__name__ if exc_type is not None else "?"
            fields["msg"] = f"{fields['msg']}: {name}: {exc}"
        else:
            fields["exc_text"] = logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
            if _from_pykka(record):
                fields["levelno"], fields["levelname"] = logging.DEBUG, "DEBUG"
    return fields


def quiet_libraries() -> None:
    """The libraries' loggers at the levels the station logs them (pykka, the ocpp library)."""
    for name, quieter in _QUIETER.items():
        logging.getLogger(name).setLevel(quieter)


def _has_exception(record: logging.LogRecord) -> bool:
    return bool(record.exc_info) and record.exc_info is not None and record.exc_info[1] is not None


def _from_pykka(record: logging.LogRecord) -> bool:
    return record.name == "pykka" or record.name.startswith("pykka.")


class _ReopenableFileHandler(logging.StreamHandler[TextIO]):
    """A file handler whose `reopen` swaps in a fresh file at the same path, losing no line."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        super().__init__(self._open())

    def _open(self) -> TextIO:
        return self.path.open("a", encoding="utf-8")

    def reopen(self) -> None:
        fresh = self._open()
        self.acquire()
        try:
            old, self.stream = self.stream, fresh
        finally:
            self.release()
        old.close()

    def close(self) -> None:
        self.acquire()
        try:
            self.stream.close()
        finally:
            self.release()
        super().close()


def _formatter(fmt: LogFormat) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            _JSON, rename_fields=_JSON_RENAMES, reserved_attrs=[*RESERVED_ATTRS, "about", _SHOWN, _OURS]
        )
    return logging.Formatter(_TEXT)


RING_LINES = 1000  # the recent lines the `logs` command can show
DEFAULT_LINES = 100


class LogRing(logging.Handler):
    """The station's recent log lines in memory, for the `logs` command (`evsectl logs`).

    Bounded (the oldest go first), each numbered from 1 (`seq`) and formatted as the text
    log (the connector named, a traceback once). `read` answers the newest lines, or those
    after a cursor (`since`) for a follower; `missed` counts those the ring no longer holds.
    """

    def __init__(self, capacity: int = RING_LINES) -> None:
        super().__init__()
        self._lines: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._seq = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is left out
            self.handleError(record)
            return
        with self._guard:
            self._seq += 1
            line = {"seq": self._seq, "ts": record.created, "level": record.levelname, "logger": record.name}
            self._lines.append({**line, "text": text})

    def read(self, since: int | None = None, lines: int | None = None) -> dict[str, Any]:
        """{"lines": [{"seq", "ts", "level", "logger", "text"}], "last_seq", "missed"}.

        Without `since` the newest `lines` (100); with it the first `lines` after it, oldest
        first (a follower asks again from the last one it got). `last_seq` is the newest
        line's seq (0 when none): one below a follower's cursor means the station started
        again, its lines numbered from 1.
        """
        count = lines or DEFAULT_LINES
        with self._guard:
            held = list(self._lines)
            last_seq = self._seq
        if since is None:
            return {"lines": held[-count:], "last_seq": last_seq, "missed": 0}
        after = [line for line in held if line["seq"] > since]
        first_held = held[0]["seq"] if held else last_seq + 1
        missed = max(0, first_held - since - 1)  # numbered before the oldest held, after the cursor
        return {"lines": after[:count], "last_seq": last_seq, "missed": missed}


class LogSetup:
    """The one logging configuration of a running station: its handler, level and filters."""

    def __init__(self, handler: logging.Handler, ring: LogRing) -> None:
        self.handler = handler
        self.ring = ring  # the recent lines, for the `logs` command

    def reopen(self) -> None:
        """Reopen the log file (after logrotate); nothing to do when logging to stderr."""
        if isinstance(self.handler, _ReopenableFileHandler):
            self.handler.reopen()
            logging.getLogger(ROOT_LOGGER).info("log file %s reopened", self.handler.path)

    def set_level(self, level: str) -> None:
        logging.getLogger().setLevel(parse_level(level))

    def close(self) -> None:
        for handler in (self.handler, self.ring):
            logging.getLogger().removeHandler(handler)
            handler.close()


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "text",
    file: pathlib.Path | None = None,
    stream: TextIO | None = None,
) -> LogSetup:
    """The root logger's handlers of ours: `file` (reopenable) or `stream` (stderr), and the
    ring of recent lines in text (`LogRing`), both with the same tracebacks shown.

    They replace those an earlier call installed; handlers installed by others stay.
    """
    handler: logging.Handler = (
        _ReopenableFileHandler(file) if file is not None else logging.StreamHandler(stream or sys.stderr)
    )
    once = TracebackOnce()
    ring = LogRing()
    for ours, formatter in ((handler, _formatter(fmt)), (ring, _formatter("text"))):
        ours.setFormatter(_OnceFormatter(formatter, once))
        ours.addFilter(_About())
        ours.addFilter(once)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    for ours in (handler, ring):
        setattr(ours, _OURS, True)
        root.addHandler(ours)
    root.setLevel(parse_level(level))
    quiet_libraries()
    return LogSetup(handler, ring)
