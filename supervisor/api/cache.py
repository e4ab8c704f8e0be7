"""The idempotency store: finished replies by (client, id), so a retry is answered, not re-run.

Replies are kept in generations: a small dict per `generation_s` of arrivals (or per
twentieth of `hard_limit` replies), oldest first. A generation leaves whole once all of
it is older than `ttl_s` (and the newer ones hold at least `capacity` replies), or when
the store is over `hard_limit`. A generation keeps its replies end to end in one buffer,
so the memory of thousands of replies kept for a minute is a few large blocks given back
whole, not thousands of small ones scattered among short-lived objects; and there is no
table of every reply to reallocate as it churns, no timestamp per reply.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from supervisor.api.protocol import RequestId

Key = tuple[str, RequestId]
_LENGTH_MASK = (1 << 32) - 1


@dataclass
class _Generation:
    """The replies stored within a few seconds: one buffer, and where each reply lies in it."""

    opened_at: float
    closed_at: float
    data: bytearray = field(default_factory=bytearray)
    spans: dict[Key, int] = field(default_factory=dict)  # start << 32 | length: one int a reply

    def get(self, key: Key) -> bytes | None:
        span = self.spans.get(key)
        if span is None:
            return None
        start = span >> 32
        return bytes(self.data[start : start + (span & _LENGTH_MASK)])

    def put(self, key: Key, reply: bytes) -> None:
        self.spans[key] = len(self.data) << 32 | len(reply)
        self.data += reply


class ReplyCache:
    """Keeps every reply younger than `ttl_s`, and the newest `capacity` whatever their age.

    Beyond `hard_limit` entries the oldest go even when young, so memory stays bounded.
    Used by one thread only.
    """

    def __init__(
        self,
        capacity: int = 10_000,
        ttl_s: float = 60.0,
        hard_limit: int = 200_000,
        monotonic: Callable[[], float] = time.monotonic,
        generation_s: float = 5.0,
    ) -> None:
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._hard_limit = max(hard_limit, capacity)
        self._monotonic = monotonic
        self._generation_s = generation_s
        self._generation_size = max(1, self._hard_limit // 20)
        self._generations: deque[_Generation] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def get(self, key: Key) -> bytes | None:
        for generation in reversed(self._generations):
            reply = generation.get(key)
            if reply is not None:
                return reply
        return None

    def put(self, key: Key, reply: bytes) -> None:
        """Store `reply`; a reply stored again for the same key supersedes the older one."""
        now = self._monotonic()
        newest = self._current(now)
        client, request_id = key
        key = (sys.intern(client), request_id)  # one copy of a client's name, however many replies
        if key not in newest.spans:
            self._size += 1
        newest.put(key, reply)
        newest.closed_at = now
        self._evict(now)

    def _current(self, now: float) -> _Generation:
        generations = self._generations
        if (
            not generations
            or now - generations[-1].opened_at >= self._generation_s
            or len(generations[-1].spans) >= self._generation_size
        ):
            generations.append(_Generation(now, now))
        return generations[-1]

    def _evict(self, now: float) -> None:
        generations = self._generations
        while len(generations) > 1:
            oldest = len(generations[0].spans)
            expired = now - generations[0].closed_at >= self._ttl_s and self._size - oldest >= self._capacity
            if not expired and self._size <= self._hard_limit:
                return
            generations.popleft()
            self._size -= oldest
