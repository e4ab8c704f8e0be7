"""Routing: a decoded request to its answer, on the socket thread.

Station commands of the `socket` route are answered here; `station` ones go to the
station worker; connector commands to their connector's lane (`lanes.py`). Around them:
idempotency (a retry joins the running original or gets its stored reply), deadlines
(each client is answered `timeout`, or `unavailable` while its actor restarts, when its
own deadline passes; the job itself goes on) and `busy`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.api.backend import Backend, RequestObserver
from supervisor.api.cache import ReplyCache
from supervisor.api.commands import Command, check_args, lookup
from supervisor.api.deadlines import Deadlines
from supervisor.api.idempotency import Idempotency
from supervisor.api.inbox import Inbox
from supervisor.api.jobs import Job, Waiter
from supervisor.api.lanes import Lanes
from supervisor.api.protocol import (
    TIMEOUT_MESSAGE,
    BadRequest,
    Busy,
    Forbidden,
    InvalidRequest,
    Request,
    UnknownEvse,
    decode_request,
    encode_error,
    encode_exception,
    encode_ok,
    show,
)
from supervisor.api.relay import Relay
from supervisor.api.station_commands import Hook, StationCommands
from supervisor.api.workers import Worker
from supervisor.config.settings import ApiSettings

logger = logging.getLogger(__name__)

Send = Callable[[list[bytes], bytes], None]
STATION = 0  # the index of station jobs; connectors are numbered from 1


@dataclass(frozen=True)
class Threads:
    """Where the dispatcher's work goes: replies sent on the socket thread (`send`), answers
    posted back to it (`inbox`), station jobs on one worker, blocking connector jobs on others."""

    inbox: Inbox
    send: Send
    station: Worker
    blocking: Worker


@dataclass(frozen=True)
class Rules:
    """What the API promises: its settings (deadlines, sizes), `busy` past `queue_limit` waiting
    jobs, retries answered from `cache`."""

    settings: ApiSettings
    queue_limit: int
    cache: ReplyCache


class Dispatcher:
    def __init__(
        self,
        backend: Backend,
        threads: Threads,
        rules: Rules,
        observer: RequestObserver | None = None,
        station_hooks: Mapping[str, Hook] | None = None,
    ) -> None:
        self._settings = rules.settings
        self._backend = backend
        self._worker = threads.station
        self._send = threads.send
        self._queue_limit = rules.queue_limit
        self._observer = observer
        self.station = StationCommands(backend, station_hooks)
        self.lanes = Lanes(backend, threads.inbox, threads.blocking, self.finish, rules.queue_limit)
        self._idempotency = Idempotency(rules.cache)
        self._deadlines = Deadlines()
        self.relay: Relay | None = None  # process isolation: connector commands go to their worker

    def handle(self, route: list[bytes], body: list[bytes]) -> None:
        """One request's frames (after the route): answered now or started."""
        started_s = time.monotonic()
        if len(body) != 1:
            reply = encode_error(None, "bad_request", f"a request is one frame, got {len(body)}")
            self.reply(route, reply, None, started_s)
            return
        try:
            request = decode_request(body[0], self._settings.max_message_bytes)
        except InvalidRequest as exc:
            self.reply(route, encode_exception(exc.request_id, exc.error), None, started_s)
            return
        try:
            self._dispatch(route, request, started_s, body[0])
        except Exception as exc:  # noqa: BLE001 - the mapping table decides the code
            reply = encode_exception(request.id, exc, what=f"dispatching {show(request.cmd)}")
            self.reply(route, reply, request, started_s)

    def reply(
        self, route: list[bytes], reply: bytes, request: Request | None, started_s: float, index: int = 0
    ) -> None:
        """Send a reply and tell the observer (metrics, the command log) of it."""
        self._send(route, reply)
        observer = self._observer
        if observer is None:
            return
        who = request.client if request is not None and request.client is not None else route[0].hex()
        try:
            observer.request_done(request, reply, time.monotonic() - started_s, who, index or None)
        except Exception:
            logger.exception("the request observer failed")

    def _dispatch(self, route: list[bytes], request: Request, started_s: float, frame: bytes) -> None:
        command = lookup(request.cmd)
        if command.scope == "station":
            if request.evse is not None:
                raise BadRequest(f"{command.name} is a station command: leave out evse")
            index = STATION
        else:
            index = self._resolve(command, request)
            self._check_enabled(command, index)
        args = check_args(command, request.args)
        if command.route == "socket":
            self.reply(route, encode_ok(request.id, self.station.run(command, args)), request, started_s)
            return
        if command.route == "worker":
            self.reply(
                route, encode_ok(request.id, self._worker_chaos(command, index, args)), request, started_s
            )
            return
        timeout_s = self._settings.request_timeout_s
        if request.timeout_ms is not None:
            timeout_s = min(timeout_s, request.timeout_ms / 1000)
        if self.relay is not None and command.scope == "evse":
            deadline_s = time.monotonic() + timeout_s
            self.relay.forward(route, frame, request, command, index, deadline_s, started_s)
            return
        waiter = Waiter(route, request.id, time.monotonic() + timeout_s, request=request, started_s=started_s)
        key = None if request.client is None else (request.client, request.id)
        if key is None or not self._join_earlier(key, waiter, index):
            self._start(Job(request.id, command, args, index, key, waiter.deadline, [waiter]))

    def _worker_chaos(self, command: Command, index: int, args: dict[str, Any]) -> bool:
        if self._backend.workers is None:
            raise Forbidden(
                f"{command.name} needs isolation: process; with isolation: thread there are no workers"
            )
        if command.name == "chaos_stop_worker":
            return self._backend.stop_worker(index, args["seconds"])
        return self._backend.kill_worker(index)

    def _resolve(self, command: Command, request: Request) -> int:
        if request.evse is None:
            raise BadRequest(f"{command.name} needs evse: a connector's index (from 1) or its evse_id")
        index = self._backend.resolve_evse(request.evse)
        if index is None:
            count = self._backend.evse_count()
            raise UnknownEvse(
                f"no connector {show(request.evse)}; connectors are 1 to {count} or their evse_id"
            )
        return index

    def _check_enabled(self, command: Command, index: int) -> None:
        if command.only == "sim" and not self._backend.is_sim(index):
            raise Forbidden(f"{command.name} needs a simulated board; connector {index} is not simulated")
        if command.only == "chaos" and not self._backend.chaos_enabled:
            raise Forbidden(f"{command.name} needs chaos: true in the configuration, or --chaos")

    def _join_earlier(self, key: tuple[str, Any], waiter: Waiter, index: int) -> bool:
        """A retry: answer it from the store, or let it wait for the running original."""
        stored = self._idempotency.stored(key)
        if stored is not None:
            self.reply(waiter.route, stored, waiter.request, waiter.started_s, index)
            return True
        job = self._idempotency.running(key)
        if job is None:
            return False
        job.join(waiter)
        self._deadlines.watch(waiter, job)
        return True

    def _start(self, job: Job) -> None:
        if job.index == STATION:
            waiting = self._worker.waiting
            if waiting >= self._queue_limit:
                raise Busy(f"the station already has {waiting} requests waiting; retry later")
        elif self.lanes.full(job.index):
            waiting = self.lanes.waiting(job.index)
            raise Busy(f"connector {job.index} already has {waiting} requests waiting; retry later")
        self._idempotency.begin(job)
        self._deadlines.watch(job.waiters[0], job)
        if job.index == STATION:
            self._worker.submit(job, self._run_station, self.finish)
        else:
            self.lanes.submit(job)

    def _run_station(self, job: Job, remaining_s: float) -> Any:
        return self.station.run(job.command, job.args)

    def finish(self, job: Job, reply: bytes | None) -> None:
        """The job is over: store its reply for retries, answer whoever still waits.

        None: it never ran (every client was answered at its deadline, or the station gave up
        on it at the deadline): nothing is stored, a retry runs it.
        """
        self._idempotency.end(job, reply)
        for waiter in job.waiters:
            if not waiter.answered:
                self._answer(
                    waiter, reply or encode_error(job.request_id, "timeout", TIMEOUT_MESSAGE), job.index
                )

    def expire(self, now: float) -> None:
        """Answer every client past its deadline; its job goes on (a retry may join it)."""
        if self.relay is not None:
            self.relay.expire(now)
        for waiter, job in self._deadlines.expired(now):
            if job.restarting:
                where = f"connector {job.index}'s actors are still restarting at the deadline"
                self._answer(waiter, encode_error(job.request_id, "unavailable", where), job.index)
            else:
                self._answer(waiter, encode_error(job.request_id, "timeout", TIMEOUT_MESSAGE), job.index)

    def timeout_ms(self, now: float) -> int | None:
        """How long the socket thread may wait for input: to the next deadline, or a recheck."""
        timeout = self._deadlines.timeout_ms(now)
        if self.relay is not None:
            relayed = self.relay.timeout_ms(now)
            if relayed is not None:
                timeout = relayed if timeout is None else min(timeout, relayed)
        if self.lanes.restarting:
            timeout = min(timeout if timeout is not None else _RECHECK_MS, _RECHECK_MS)
        return timeout

    def idle(self) -> None:
        self.lanes.recheck_restarting()

    def flush(self) -> None:
        self.lanes.flush()

    def _answer(self, waiter: Waiter, reply: bytes, index: int) -> None:
        waiter.answered = True
        self.reply(waiter.route, reply, waiter.request, waiter.started_s, index)


_RECHECK_MS = 50  # while a job waits for a restart: a look at the connector in case an event was missed
