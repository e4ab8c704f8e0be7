"""Replies that come later: an actor's answer that waits on something slow, without blocking it.

In pykka a handler's return value is the reply, and its Future has no done-callback. A
handler whose answer waits on hardware or a timer returns a `Later` instead, owed by its
actor's `Laters`, and settles it from a later message (a tell); the actor stays free in
between (it answers pings and other messages). The caller unwraps the reply with
`answer`. A `Later` fails with `Abandoned` when its actor stops or dies (`Laters.fail_all`
from `on_stop` / `on_failure`) and, as its caller sees, when its generation is fenced
(its lease revoked), so nobody waits for a generation that is gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from supervisor.tree.errors import Unavailable
from supervisor.tree.lease import Lease

_WAIT_SLICE_S = 0.05  # how often a waiting caller looks at the owner's lease


class Abandoned(Unavailable):
    """The actor generation that owed a reply stopped, died or was fenced before it gave it."""


class Later:
    """One reply owed by one actor generation; the first `resolve` or `fail` settles it."""

    def __init__(self, lease: Lease) -> None:
        self._lease = lease
        self._settled = threading.Event()
        self._lock = threading.Lock()
        self._value: Any = None
        self._error: BaseException | None = None
        self._then: list[Callable[[Any, BaseException | None], None]] = []

    @property
    def done(self) -> bool:
        return self._settled.is_set()

    def resolve(self, value: Any) -> bool:
        """Give the reply; False when it was already settled."""
        return self._settle(value, None)

    def fail(self, error: BaseException) -> bool:
        """Make the caller raise `error`; False when it was already settled."""
        return self._settle(None, error)

    def then(self, callback: Callable[[Any, BaseException | None], None]) -> None:
        """Call `callback(value, error)` once settled (at once if it already is), on the settling thread."""
        with self._lock:
            if not self._settled.is_set():
                self._then.append(callback)
                return
        callback(self._value, self._error)

    def get(self, timeout_s: float) -> Any:
        """The reply; raises what it failed with, `Abandoned` once its owner is fenced, or
        pykka.Timeout after `timeout_s` (as an ask does)."""
        deadline_s = time.monotonic() + timeout_s
        while not self._settled.wait(max(0.0, min(_WAIT_SLICE_S, deadline_s - time.monotonic()))):
            if not self._lease.valid:
                lease = self._lease
                self.fail(
                    Abandoned(f"{lease.role} generation {lease.generation} was fenced before it answered")
                )
            elif time.monotonic() >= deadline_s:
                raise pykka.Timeout(f"{self._lease.role} did not answer within {timeout_s} s")
        if self._error is not None:
            raise self._error
        return self._value

    def _settle(self, value: Any, error: BaseException | None) -> bool:
        with self._lock:
            if self._settled.is_set():
                return False
            self._value, self._error = value, error
            self._settled.set()
            callbacks, self._then = self._then, []
        for callback in callbacks:
            callback(value, error)
        return True


class Laters:
    """The replies one actor generation still owes; used by that actor's own thread."""

    def __init__(self, lease: Lease) -> None:
        self._lease = lease
        self._owed: list[Later] = []

    def owe(self) -> Later:
        """A new reply owed by this generation (settled ones are forgotten)."""
        later = Later(self._lease)
        self._owed = [owed for owed in self._owed if not owed.done]
        self._owed.append(later)
        return later

    def fail_all(self, reason: str) -> None:
        """Fail every owed reply with Abandoned(reason): the generation stops or died."""
        owed, self._owed = self._owed, []
        for later in owed:
            later.fail(Abandoned(reason))


def answer(reply: Any, timeout_s: float) -> Any:
    """The reply of an ask: itself, or, when its handler answered later, the `Later`'s value."""
    if isinstance(reply, Later):
        return reply.get(timeout_s)
    return reply
