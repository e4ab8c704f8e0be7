"""A connector's commands in order, straight to its actors: the API's command path.

Each connector has a lane: its jobs in arrival order. A job for the session actor is told
to it as a `Call` from the socket thread; the actor's answer comes back through the
`Inbox` (no thread waits for it in between). Session jobs follow each other into the
actor's inbox, which keeps their order; any other job (a simulator control, an event
read from memory, a chaos tell, all answered at once on the socket thread; events
older than memory's window are read from the journal on a worker) waits until everything
before it is answered, and everything after it waits for it. More than `queue_limit` jobs
waiting behind the one in hand is `busy`.

Restarts: a `Call` in the inbox of a generation that dies, is fenced or is stopped by its
supervisor (a sibling of a failed actor) is lost with it.
On each supervision event of the connector the lane looks again: what it sent to a
retired generation goes again, in order, to the next one (the stale generation's effects,
should it still run them, are refused by its revoked lease); while the actor restarts its
jobs wait, up to their deadlines. A command the station decides first (`Backend.decides`)
and any command to a connector given up go through `Backend.ask_session` on a worker
thread (it knows which commands revive a given-up connector); the lane waits for them, as
for a `restart` of the connector's actors (which waits for what was sent before it).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pykka

from actors.messages import Keyed
from drivers.base import DriverError
from supervisor.api.backend import Backend
from supervisor.api.commands import message_of
from supervisor.api.inbox import Inbox
from supervisor.api.jobs import Job
from supervisor.api.protocol import BadArgs, encode_exception, encode_ok
from supervisor.api.workers import Run, Worker
from supervisor.tree import Call, Unavailable

Finish = Callable[[Job, bytes | None], None]


@dataclass(eq=False)
class _Entry:
    job: Job
    call: Call | None = None  # the attempt told to the session actor, while unanswered
    blocked: bool = False  # on the station worker


class _Lane:
    """One connector's jobs; `entries[:sent]` are Calls told to `ref`, not answered yet.

    `ref` stays the generation told last until a supervision event of the connector shows
    another (or none): a restart always publishes one.
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.entries: deque[_Entry] = deque()
        self.sent = 0
        self.ref: pykka.ActorRef[Any] | None = None


class Lanes:
    def __init__(
        self, backend: Backend, inbox: Inbox, worker: Worker, finish: Finish, queue_limit: int
    ) -> None:
        self._backend = backend
        self._inbox = inbox
        self._worker = worker
        self._finish = finish
        self._queue_limit = queue_limit
        self._lanes: dict[int, _Lane] = {}  # the connectors commands came for (a worker's share, say)
        self.restarting: set[int] = set()  # lanes whose next job waits for a new generation
        # Calls are told at the end of the socket thread's round (a batch of requests, or of
        # posted answers), not one by one: an actor woken mid-round would take the GIL each
        # time the socket thread lets go of it in a ZeroMQ call, and the round would crawl.
        self._told: list[tuple[_Lane, _Entry, pykka.ActorRef[Any], Call]] = []

    def _lane(self, index: int) -> _Lane:
        lane = self._lanes.get(index)
        if lane is None:
            lane = self._lanes[index] = _Lane(index)
        return lane

    def waiting(self, index: int) -> int:
        """Jobs waiting behind the one in hand."""
        return max(0, len(self._lane(index).entries) - 1)

    def full(self, index: int) -> bool:
        return self.waiting(index) >= self._queue_limit

    def submit(self, job: Job) -> None:
        """Take the job in its connector's order (the caller checked `full` first)."""
        lane = self._lane(job.index)
        lane.entries.append(_Entry(job))
        if len(lane.entries) == lane.sent + 1:
            self._pump(lane)

    def recheck(self, index: int) -> None:
        """After a supervision event: resend what went to a retired generation, start what waited."""
        lane = self._lanes.get(index)
        if lane is None:
            return
        if lane.ref is not None and self._current(lane) is not lane.ref:
            self._forget_sent(lane)
        self._pump(lane)

    def recheck_restarting(self) -> None:
        for index in list(self.restarting):
            self.recheck(index)

    # --- moving a lane on ------------------------------------------------------------------

    def _pump(self, lane: _Lane) -> None:
        """Start what may start: Calls behind Calls, anything else once nothing is in flight."""
        self.restarting.discard(lane.index)
        now = time.monotonic()
        while lane.sent < len(lane.entries):
            entry = lane.entries[lane.sent]
            if entry.blocked:
                return
            if entry.job.abandoned(now):  # never ran, and nobody waits for it any more
                self._done(lane, entry, None)
                continue
            route = entry.job.command.route
            if route == "session":
                started = self._tell(lane, entry)
            elif lane.sent:
                return
            elif route == "tree":
                started = self._block(lane, entry, self._restart)
            elif route == "events" and not self._in_memory(entry.job):
                started = self._block(lane, entry, self._read_events)
            elif route == "sim":  # a round trip to the plant: never on this thread
                started = self._block(lane, entry, self._simulate)
            else:
                started = self._run_here(lane, entry)
            if not started:
                return

    def _tell(self, lane: _Lane, entry: _Entry) -> bool:
        job = entry.job
        message = message_of(job.command, job.args)
        if self._backend.decides(lane.index, message):  # the station sees it first
            return not lane.sent and self._block(lane, entry, partial(self._ask, message))
        ref = lane.ref  # the generation told last, until a supervision event says otherwise
        if ref is None:
            try:
                ref = self._backend.actor_ref(lane.index, "session")
            except Unavailable:  # given up: `ask_session` answers (and revives it for enable/disable)
                return not lane.sent and self._block(lane, entry, partial(self._ask, message))
        if lane.sent and ref is not lane.ref:  # retired under the Calls in flight: they go again first
            self._forget_sent(lane)
            return True
        if ref is None:
            return self._wait_for_restart(lane, entry)
        keyed = message if job.key is None else Keyed(message, job.key)  # its reply journaled with it
        call = Call(keyed, partial(self._answered, lane, entry))
        entry.call, lane.ref, job.restarting = call, ref, False
        lane.sent += 1
        self._told.append((lane, entry, ref, call))
        return True

    def flush(self) -> None:
        """Tell the actors what this round of the socket thread decided (see `_told`)."""
        told, self._told = self._told, []
        for lane, entry, ref, call in told:
            if entry.call is not call:
                continue
            try:
                ref.tell(call)
            except pykka.ActorDeadError:  # dead before it was told: never handled
                entry.call = None
                lane.sent -= 1
                if not lane.sent:
                    lane.ref = None
                self._wait_for_restart(lane, entry)

    def _in_memory(self, job: Job) -> bool:
        return self._backend.events_in_memory(job.index, int(job.args.get("since", 0)))

    def _wait_for_restart(self, lane: _Lane, entry: _Entry) -> bool:
        entry.job.restarting = True
        self.restarting.add(lane.index)
        return False

    def _forget_sent(self, lane: _Lane) -> None:
        for entry in list(lane.entries)[: lane.sent]:
            entry.call = None
        lane.sent, lane.ref = 0, None

    def _current(self, lane: _Lane) -> pykka.ActorRef[Any] | None:
        try:
            return self._backend.actor_ref(lane.index, "session")
        except Unavailable:
            return None

    # --- answers -------------------------------------------------------------------------

    def _answered(
        self, lane: _Lane, entry: _Entry, call: Call, result: Any, error: BaseException | None
    ) -> None:
        """On the actor's thread: encode the answer here, hand it to the socket thread."""
        job = entry.job
        if error is None:
            reply = encode_ok(job.request_id, result)
        else:
            reply = encode_exception(job.request_id, error, what=f"running {job.command.name}")
        self._inbox.post(partial(self._call_done, lane, entry, call, reply))

    def _call_done(self, lane: _Lane, entry: _Entry, call: Call, reply: bytes) -> None:
        if entry.call is not call:  # an attempt that was sent again meanwhile
            return
        entry.call = None
        lane.sent -= 1
        self._done(lane, entry, reply)
        self._pump(lane)

    def _done(self, lane: _Lane, entry: _Entry, reply: bytes | None) -> None:
        lane.entries.remove(entry)
        self._finish(entry.job, reply)

    # --- jobs that do not go to the session actor ------------------------------------------

    def _run_here(self, lane: _Lane, entry: _Entry) -> bool:
        """A job answered at once on this thread; False when it must wait for a restart."""
        job = entry.job
        try:
            result = self._at_once(job)
        except _Restarting:
            return self._wait_for_restart(lane, entry)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reply
            reply = encode_exception(job.request_id, exc, what=f"running {job.command.name}")
        else:
            reply = encode_ok(job.request_id, result)
        self._done(lane, entry, reply)
        return True

    def _at_once(self, job: Job) -> Any:
        backend, command, args = self._backend, job.command, job.args
        if command.route == "events":
            return backend.events_since(job.index, int(args.get("since", 0)))
        if "actor" not in args:  # chaos_hang_supervisor: the connector's supervisor itself stalls
            return backend.stall_supervisor(job.index, float(args["seconds"]))
        ref = backend.actor_ref(job.index, args["actor"])  # chaos: a tell, answered true
        if ref is None:
            raise _Restarting()
        try:
            ref.tell(message_of(command, args))
        except pykka.ActorDeadError:
            raise _Restarting() from None
        return True

    def _block(self, lane: _Lane, entry: _Entry, run: Run) -> bool:
        """`run` on a worker thread (it may block); the lane waits for it."""
        entry.blocked = True
        self._worker.submit(entry.job, run, partial(self._unblocked, lane, entry))
        return False

    def _ask(self, message: object, job: Job, remaining_s: float) -> Any:
        return self._backend.ask_session(job.index, message, remaining_s, job.key)

    def _read_events(self, job: Job, remaining_s: float) -> Any:
        """Events beyond memory's window: a read of the journal."""
        return self._backend.events_since(job.index, int(job.args.get("since", 0)))

    def _simulate(self, job: Job, remaining_s: float) -> Any:
        """One of the simulator's controls, in this process or in the plant's."""
        name = job.command.name
        try:
            return self._backend.sim(job.index, name.removeprefix("sim_"), job.args)
        except ValueError as exc:  # the simulator's refusal of values the table let through
            raise BadArgs(f"{name}: {exc}") from None
        except DriverError as exc:  # the plant process does not answer
            raise Unavailable(f"{name}: the simulated hardware does not answer: {exc}") from None

    def _restart(self, job: Job, remaining_s: float) -> Any:
        return self._backend.restart_connector(job.index)

    def _unblocked(self, lane: _Lane, entry: _Entry, job: Job, reply: bytes | None) -> None:
        entry.blocked = False
        self._done(lane, entry, reply)
        self._pump(lane)


class _Restarting(Exception):
    """The actor to tell is restarting: the job waits."""
