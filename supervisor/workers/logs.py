"""Workers' log lines in the root's log: one PUSH per worker, one PULL in the root, the worker named.

A worker formats each record's message itself (a traceback once per distinct failure, as
the root does) and sends its fields; the root makes a record of them again, with `worker`
set, and hands it to its own handlers, so that a worker's line lands in the same file, in
the same format (text or JSON), reopened on SIGUSR2 like the root's own.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import msgpack
import zmq

from supervisor.ops.logs import TracebackOnce, portable, quiet_libraries
from supervisor.workers.reader import SocketReader

SNDHWM = 10_000  # a worker that logs faster than the root writes loses lines, never blocks


class ToRoot(logging.Handler):
    """A worker's handler: every record to the root's log (emit runs under the handler's lock)."""

    def __init__(self, endpoint: str, worker_id: int) -> None:
        super().__init__()
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PUSH)
        self._socket.linger = 500
        self._socket.sndhwm = SNDHWM
        self._socket.connect(endpoint)
        self._worker_id = worker_id
        self._once = TracebackOnce()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = portable(record, self._once)
            if fields is None:
                return
            fields["worker"] = self._worker_id
            self._socket.send(msgpack.packb(fields, default=str), zmq.NOBLOCK)
        except zmq.Again:
            pass
        except Exception:  # noqa: BLE001 - a log line must never take the worker down
            self.handleError(record)

    def close(self) -> None:
        """What is queued goes out (for at most the socket's linger), then the socket closes."""
        with self.lock or contextlib.nullcontext():
            if not self._socket.closed:
                self._socket.close()
                self._context.term()
        super().close()


def log_to_root(endpoint: str, worker_id: int, level: str) -> None:
    """The worker's logging: everything at `level` and above goes to its root."""
    root = logging.getLogger()
    root.handlers[:] = [ToRoot(endpoint, worker_id)]
    root.setLevel(level)
    quiet_libraries()


class LogRelay:
    """The root's side: the workers' records, given to the root's handlers."""

    def __init__(self, endpoint: str) -> None:
        self._reader = SocketReader(zmq.PULL, "workers-logs", _handle)
        self._reader.socket.bind(endpoint)

    def start(self) -> None:
        self._reader.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        self._reader.stop(timeout_s)


def _handle(frames: list[bytes]) -> None:
    if len(frames) != 1:  # a worker sends each record in one frame
        return
    try:
        fields: Any = msgpack.unpackb(frames[0], raw=False)
        if not isinstance(fields, dict):
            return
        record = logging.makeLogRecord(fields)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)
