"""The deadlines of the waiting clients: the soonest first, for the socket thread's poll timeout."""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator

from supervisor.api.jobs import Job, Waiter


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Waiter, Job]] = []
        self._order = itertools.count()

    def watch(self, waiter: Waiter, job: Job) -> None:
        heapq.heappush(self._heap, (waiter.deadline, next(self._order), waiter, job))

    def timeout_ms(self, now: float) -> int | None:
        """How long the socket thread may sleep; None when nobody waits."""
        if not self._heap:
            return None
        return max(0, math.ceil((self._heap[0][0] - now) * 1000))

    def expired(self, now: float) -> Iterator[tuple[Waiter, Job]]:
        """Every waiter past its deadline and not answered yet, with its job; they leave the watch."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, waiter, job = heapq.heappop(heap)
            if not waiter.answered:
                yield waiter, job
