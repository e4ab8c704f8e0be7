"""Workers: one thread per connector (and one for slow station commands), each with its queue.

A connector's requests run in order, connectors run in parallel. A worker hands each
finished reply to the socket thread through `Completions`; it never touches the ROUTER.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from supervisor.api.cache import Key
from supervisor.api.commands import Command
from supervisor.api.protocol import RequestId, encode_exception, encode_ok, error_code

logger = logging.getLogger(__name__)

Run = Callable[["Job", float], Any]


@dataclass(eq=False)
class Waiter:
    """One client waiting for a job's reply: where to send it and until when."""

    route: list[bytes]
    request_id: RequestId
    deadline: float
    answered: bool = False


@dataclass(eq=False)
class Job:
    """A request on its way through a worker; retries of the same key wait on it too."""

    request_id: RequestId
    command: Command
    args: dict[str, Any]
    index: int
    key: Key | None
    deadline: float
    waiters: list[Waiter] = field(default_factory=list)


@dataclass(frozen=True)
class Completion:
    """A job's reply; None when it was dropped unrun (its deadline had passed).

    Only a `final` reply goes to the idempotency store: a station-side timeout is not, so
    a retry runs the command again (the timed-out attempt was abandoned by the station).
    """

    job: Job
    reply: bytes | None
    final: bool = True
    attempt_deadline: float = 0.0  # the deadline this attempt ran under


class Completions:
    """Finished jobs for the socket thread: a queue, and an inproc PUSH to wake it.

    One wake is pending at most: `rearm` (by the socket thread, before it drains) allows the next.
    """

    def __init__(self, push: zmq.Socket[bytes]) -> None:
        self._queue: queue.SimpleQueue[Completion] = queue.SimpleQueue()
        self._push = push
        self._lock = threading.Lock()
        self._closed = False
        self._signalled = False

    def put(self, completion: Completion) -> None:
        self._queue.put(completion)
        if not self._signalled:
            self.wake()

    def wake(self) -> None:
        with self._lock:
            if not self._closed:
                self._signalled = True
                with contextlib.suppress(zmq.Again):  # wakes already pending: it will drain
                    self._push.send(b"", zmq.NOBLOCK)

    def rearm(self) -> None:
        """The socket thread is about to drain: the next put must wake it again."""
        self._signalled = False

    def drain(self) -> list[Completion]:
        items = []
        get = self._queue.get_nowait
        while True:
            try:
                items.append(get())
            except queue.Empty:
                return items

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._push.close(linger=0)


class Worker:
    """A thread running one connector's jobs in order; `waiting` counts the queued ones."""

    def __init__(self, name: str, run: Run, completions: Completions) -> None:
        self._run = run
        self._completions = completions
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job) -> None:
        self._queue.put(job)

    def stop(self, timeout_s: float) -> bool:
        """Ask the thread to end after its current job; True when it did within timeout_s."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        get, put, run = self._queue.get, self._completions.put, self._run
        while (job := get()) is not None:
            put(execute(job, run))


def execute(job: Job, run: Run) -> Completion:
    """Run one job now (on a worker, or on the socket thread for a direct command)."""
    deadline = job.deadline
    remaining_s = deadline - time.monotonic()
    if remaining_s <= 0:
        return Completion(job, None, False, deadline)
    try:
        return Completion(job, encode_ok(job.request_id, run(job, remaining_s)), True, deadline)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reply
        reply = encode_exception(job.request_id, exc, what=f"running {job.command.name}")
        return Completion(job, reply, error_code(exc) != "timeout", deadline)
