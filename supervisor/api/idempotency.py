"""Idempotency: a request with a `client` runs once; a retry joins it or gets its stored reply.

A job stays `running` under its (client, id) until it has its real reply, however long
after its clients' deadlines that comes: a retry after a `timeout` answer joins the
still-running original instead of running the command again. Only then does the reply
go to the store (`ReplyCache`), where later retries find it. A job dropped before it ran
(every client had been answered at its deadline) leaves nothing: a retry runs it.
"""

from __future__ import annotations

from supervisor.api.cache import Key, ReplyCache
from supervisor.api.jobs import Job


class Idempotency:
    def __init__(self, cache: ReplyCache) -> None:
        self._cache = cache
        self._running: dict[Key, Job] = {}

    def stored(self, key: Key) -> bytes | None:
        return self._cache.get(key)

    def running(self, key: Key) -> Job | None:
        return self._running.get(key)

    def begin(self, job: Job) -> None:
        if job.key is not None:
            self._running[job.key] = job

    def end(self, job: Job, reply: bytes | None) -> None:
        """The job is over: with its reply (stored for retries), or None when it never ran."""
        if job.key is None or self._running.get(job.key) is not job:
            return
        del self._running[job.key]
        if reply is not None:
            self._cache.put(job.key, reply)
