"""The idempotency store: finished replies by (client, id), so a retry is answered, not re-run.

Replies are kept in generations: one per `generation_s` of arrivals (or per twentieth
of `hard_limit` replies), oldest first. A generation leaves whole once all of
it is older than `ttl_s` (and the newer ones hold at least `capacity` replies), or when
the store is over `hard_limit`. A generation keeps its replies end to end in one buffer,
so the memory of thousands of replies kept for a minute is a few large blocks given back
whole, not thousands of small ones scattered among short-lived objects; and there is no
table of every reply to reallocate as it churns, no timestamp per reply.
"""

from __future__ import annotations

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
    spans: dict[str, dict[RequestId, int]] = field(default_factory=dict)  # start << 32 | length
    count: int = 0

    def get(self, client: str, request_id: RequestId) -> bytes | None:
        ids = self.spans.get(client)
        span = ids.get(request_id) if ids is not None else None
        if span is None:
            return None
        start = span >> 32
        return bytes(self.data[start : start + (span & _LENGTH_MASK)])

    def put(self, client: str, request_id: RequestId, reply: bytes) -> bool:
        """Store the reply; False if it replaces one of this generation."""
        ids = self.spans.setdefault(client, {})
        fresh = request_id not in ids
        ids[request_id] = len(self.data) << 32 | len(reply)
        self.data += reply
        self.count += fresh
        return fresh


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
        client, request_id = key
        for generation in reversed(self._generations):
            reply = generation.get(client, request_id)
            if reply is not None:
                return reply
        return None

    def put(self, key: Key, reply: bytes) -> None:
        """Store `reply`; a reply stored again for the same key supersedes the older one."""
        now = self._monotonic()
        newest = self._current(now)
        if newest.put(*key, reply):
            self._size += 1
        newest.closed_at = now
        self._evict(now)

    def _current(self, now: float) -> _Generation:
        generations = self._generations
        if (
            not generations
            or now - generations[-1].opened_at >= self._generation_s
            or generations[-1].count >= self._generation_size
        ):
            generations.append(_Generation(now, now))
        return generations[-1]

    def _evict(self, now: float) -> None:
        generations = self._generations
        while len(generations) > 1:
            oldest = generations[0].count
            expired = now - generations[0].closed_at >= self._ttl_s and self._size - oldest >= self._capacity
            if not expired and self._size <= self._hard_limit:
                return
            generations.popleft()
            self._size -= oldest
