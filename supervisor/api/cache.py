"""The idempotency store: finished replies by (client, id), so a retry is answered, not re-run."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from supervisor.api.protocol import RequestId

Key = tuple[str, RequestId]


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
    ) -> None:
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._hard_limit = max(hard_limit, capacity)
        self._monotonic = monotonic
        self._replies: OrderedDict[Key, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._replies)

    def get(self, key: Key) -> bytes | None:
        entry = self._replies.get(key)
        return None if entry is None else entry[1]

    def put(self, key: Key, reply: bytes) -> None:
        self._replies.pop(key, None)
        self._replies[key] = (self._monotonic(), reply)
        self._evict()

    def _evict(self) -> None:
        now = self._monotonic()
        while len(self._replies) > self._capacity:
            stored_at, _ = next(iter(self._replies.values()))
            if now - stored_at < self._ttl_s and len(self._replies) <= self._hard_limit:
                return
            self._replies.popitem(last=False)
