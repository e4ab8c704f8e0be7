"""A message with a completion callback: an ask without a thread waiting for the answer.

pykka's ask hands the caller a Future it must block on. A `Call` is told instead; the
actor's thread runs the wrapped message through the actor's own dispatch and hands the
result, or the handler's exception, to `done` (an error does not kill the actor, as with
an ask). A reply the handler gives later (a `Later`) reaches `done` when it is settled. So
a caller such as a socket thread sends and moves on, and the answer comes back to it by
whatever `done` does (typically: queue it and wake the caller).

`started` tells whether a handler ever took the message: a Call still queued when its
generation died, was fenced or was taken out of its supervisor's table (withdrawn: it
`refuse`s what it had not started) was never handled, and may be sent again to the next one.
`done` runs on the actor's thread (or the thread that settles a `Later`): keep it short.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from supervisor.tree.later import Later

Done = Callable[["Call", Any, BaseException | None], None]


class NotStarted(pykka.ActorDeadError):
    """The generation asked was withdrawn before it took the Call: it never ran there."""


class Call:
    """One attempt at delivering `message`; `done(call, result, error)` is called once."""

    __slots__ = ("done", "message", "started")

    def __init__(self, message: Any, done: Done | None = None) -> None:
        self.message = message
        self.done = done
        self.started = False

    def run(self, handle: Callable[[Any], Any]) -> Any:
        """In the actor's thread: handle the message, hand over the answer (now or when settled).

        Without `done` the Call was asked (pykka's Future carries the reply): only `started`
        is of use then, to tell an ask that never reached a handler from one that did.
        """
        self.started = True
        if self.done is None:
            return handle(self.message)
        try:
            reply = handle(self.message)
        except Exception as exc:  # noqa: BLE001 - the caller's error, as an ask would see it
            self.done(self, None, exc)
            return None
        done = self.done
        if isinstance(reply, Later):
            reply.then(lambda value, error: done(self, value, error))
        else:
            done(self, reply, None)
        return None

    def refuse(self) -> None:
        """In the actor's thread of a withdrawn generation: the message is not handled. An ask's
        caller gets NotStarted (an ActorDeadError of a Call never started: it asks the next
        generation); `done` is not called: the Call is lost with its generation, as when it dies,
        and its sender, told of the restart, sends it again."""
        if self.done is None:
            raise NotStarted("the generation asked was taken out of its supervisor's table first")
