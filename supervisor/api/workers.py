"""Workers for what may block, off the socket thread: the station's `status` and `list_evses`,
and the few connector commands that cannot go straight to an actor (`lanes.py`).

A worker posts each reply to the socket thread's `Inbox`; it never touches the ROUTER.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from supervisor.api.inbox import Inbox
from supervisor.api.jobs import Job
from supervisor.api.protocol import encode_exception, encode_ok, error_code

logger = logging.getLogger(__name__)

Run = Callable[[Job, float], Any]
Finish = Callable[[Job, bytes | None], None]


class Worker:
    """Threads running jobs from one queue (one thread: in order); `waiting` counts the queued ones."""

    def __init__(self, name: str, inbox: Inbox, threads: int = 1) -> None:
        self._inbox = inbox
        self._queue: queue.SimpleQueue[tuple[Job, Run, Finish] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._loop, name=f"{name}-{n}" if threads > 1 else name, daemon=True)
            for n in range(1, threads + 1)
        ]

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job, run: Run, finish: Finish) -> None:
        """`run(job, remaining_s)`; then `finish(job, reply)` on the socket thread (None: not run in time)."""
        self._queue.put((job, run, finish))

    def stop(self, timeout_s: float) -> bool:
        """Ask the threads to end after their current jobs; True when they did within timeout_s."""
        deadline = time.monotonic() + timeout_s
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _loop(self) -> None:
        get, post = self._queue.get, self._inbox.post
        while (item := get()) is not None:
            job, run, finish = item
            reply = execute(job, run)
            post(lambda job=job, finish=finish, reply=reply: finish(job, reply))  # type: ignore[misc]


def execute(job: Job, run: Run) -> bytes | None:
    """Run one job now; None when its deadline had passed, or passed inside the station.

    None is not a reply: the job leaves no stored result, so a retry runs it (it did not
    run, or its attempt was abandoned at the deadline).
    """
    remaining_s = job.deadline - time.monotonic()
    if remaining_s <= 0:
        return None
    try:
        return encode_ok(job.request_id, run(job, remaining_s))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reply
        if error_code(exc) == "timeout":
            return None
        return encode_exception(job.request_id, exc, what=f"running {job.command.name}")
