"""The request loop: the one thread that owns the ROUTER socket.

It decodes and checks each request, answers quick station commands itself, hands the
rest to a worker, answers `timeout` at each request's deadline, and sends the workers'
replies back to the client in the shape its request had.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from typing import Any

import zmq

from supervisor.api.backend import Backend
from supervisor.api.cache import Key, ReplyCache
from supervisor.api.commands import Command, check_args, lookup
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
from supervisor.api.station_commands import StationCommands
from supervisor.api.workers import Completion, Completions, Job, Run, Waiter, Worker, execute

logger = logging.getLogger(__name__)

STATION_WORKER = 0  # connectors are numbered from 1
_BATCH = 256
_MORE = zmq.SNDMORE | zmq.NOBLOCK


class RequestLoop:
    def __init__(
        self,
        router: zmq.Socket[bytes],
        wake: zmq.Socket[bytes],
        completions: Completions,
        workers: dict[int, Worker],
        run: Run,
        backend: Backend,
        station: StationCommands,
        *,
        request_timeout_s: float,
        max_message_bytes: int,
        queue_limit: int,
        cache: ReplyCache,
    ) -> None:
        self._router = router
        self._wake = wake
        self._completions = completions
        self._workers = workers
        self._outstanding = dict.fromkeys(workers, 0)  # jobs handed to each worker, not yet finished
        self._run = run
        self._backend = backend
        self._station = station
        self._request_timeout_s = request_timeout_s
        self._max_message_bytes = max_message_bytes
        self._queue_limit = queue_limit
        self._cache = cache
        self._pending: dict[Key, Job] = {}
        self._deadlines: list[tuple[float, int, Waiter]] = []
        self._order = itertools.count()
        self.stopping = threading.Event()

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._wake, zmq.POLLIN)
        router, wake = self._router, self._wake
        try:
            while not self.stopping.is_set():
                for sock, _ in poller.poll(self._poll_timeout_ms()):
                    if sock is router:
                        self._read_requests()
                    elif sock is wake:
                        self._finish_jobs()
                if self._deadlines:
                    self._expire(time.monotonic())
        finally:
            self._router.close(linger=0)
            self._wake.close(linger=0)

    def _poll_timeout_ms(self) -> int | None:
        if not self._deadlines:
            return None
        return max(0, math.ceil((self._deadlines[0][0] - time.monotonic()) * 1000))

    def _read_requests(self) -> None:
        """Everything the ROUTER holds (up to a batch), without a failing recv per wake."""
        router, handle = self._router, self._handle
        for _ in range(_BATCH):
            if not _readable(router):
                return
            frames = router.recv_multipart()
            try:
                handle(frames)
            except Exception:
                logger.exception("failed to handle a request")

    def _handle(self, frames: list[bytes]) -> None:
        route, body = _split(frames)
        if len(body) != 1:
            self._send(route, encode_error(None, "bad_request", f"a request is one frame, got {len(body)}"))
            return
        try:
            request = decode_request(body[0], self._max_message_bytes)
        except InvalidRequest as exc:
            self._send(route, encode_exception(exc.request_id, exc.error))
            return
        try:
            self._dispatch(route, request)
        except Exception as exc:  # noqa: BLE001 - the mapping table decides the code
            self._send(route, encode_exception(request.id, exc, what=f"dispatching {show(request.cmd)}"))

    def _dispatch(self, route: list[bytes], request: Request) -> None:
        command = lookup(request.cmd)
        timeout_s = self._request_timeout_s
        if request.timeout_ms is not None:
            timeout_s = min(timeout_s, request.timeout_ms / 1000)
        deadline = time.monotonic() + timeout_s
        if command.scope == "station":
            if request.evse is not None:
                raise BadRequest(f"{command.name} is a station command: leave out evse")
            args = check_args(command, request.args)
            if command.route == "socket":
                self._send(route, encode_ok(request.id, self._station.run(command, args)))
            else:
                self._submit(route, request, command, STATION_WORKER, args, deadline)
            return
        index = self._resolve(command, request)
        self._check_enabled(command, index)
        args = check_args(command, request.args)
        # A direct command never waits on an actor: it runs here when nothing of its connector
        # is queued or running (so it still answers in order), without the hop to the worker;
        # events older than memory's window are read from the journal, off this thread.
        direct = command.route == "events" and self._outstanding[index] == 0
        direct = direct and self._backend.events_in_memory(index, int(args.get("since", 0)))
        if direct and request.client is None:
            self._run_direct(route, request, command, index, args, deadline)
        else:
            self._submit(route, request, command, index, args, deadline, direct)

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

    def _submit(
        self,
        route: list[bytes],
        request: Request,
        command: Command,
        index: int,
        args: dict[str, Any],
        deadline: float,
        direct: bool = False,
    ) -> None:
        key = None if request.client is None else (request.client, request.id)
        waiter = Waiter(route, request.id, deadline)
        if key is not None and self._join_earlier(key, waiter):
            return
        if direct:
            self._deliver(execute(Job(request.id, command, args, index, key, deadline, [waiter]), self._run))
            return
        worker = self._workers[index]
        if worker.waiting >= self._queue_limit:
            where = "the station" if index == STATION_WORKER else f"connector {index}"
            raise Busy(f"{where} already has {worker.waiting} requests waiting; retry later")
        job = Job(request.id, command, args, index, key, deadline, [waiter])
        if key is not None:
            self._pending[key] = job
        self._watch(waiter)
        self._outstanding[index] += 1
        worker.submit(job)

    def _run_direct(
        self,
        route: list[bytes],
        request: Request,
        command: Command,
        index: int,
        args: dict[str, Any],
        deadline: float,
    ) -> None:
        """A direct command without an idempotency key: run it and answer at once."""
        job = Job(request.id, command, args, index, None, deadline, [])
        self._send(
            route, execute(job, self._run).reply or encode_error(request.id, "timeout", TIMEOUT_MESSAGE)
        )

    def _join_earlier(self, key: Key, waiter: Waiter) -> bool:
        """A retry: answer it from the store, or let it wait for the running original."""
        stored = self._cache.get(key)
        if stored is not None:
            self._send(waiter.route, stored)
            return True
        job = self._pending.get(key)
        if job is None:
            return False
        job.waiters.append(waiter)
        job.deadline = max(job.deadline, waiter.deadline)
        self._watch(waiter)
        return True

    def _watch(self, waiter: Waiter) -> None:
        heapq.heappush(self._deadlines, (waiter.deadline, next(self._order), waiter))

    def _expire(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, waiter = heapq.heappop(self._deadlines)
            if not waiter.answered:
                self._answer(waiter, encode_error(waiter.request_id, "timeout", TIMEOUT_MESSAGE))

    def _finish_jobs(self) -> None:
        wake = self._wake
        while _readable(wake):
            wake.recv()
        self._completions.rearm()
        for completion in self._completions.drain():
            try:
                self._finish(completion)
            except Exception:
                logger.exception("failed to deliver a reply")

    def _finish(self, completion: Completion) -> None:
        """A worker's completion: run it again for a later retry, or answer it."""
        self._outstanding[completion.job.index] -= 1
        if not completion.final and self._run_again(completion):
            return
        self._deliver(completion)

    def _deliver(self, completion: Completion) -> None:
        job = completion.job
        if job.key is not None and self._pending.get(job.key) is job:
            del self._pending[job.key]
        reply = completion.reply
        if reply is None:
            reply = encode_error(job.request_id, "timeout", TIMEOUT_MESSAGE)
        elif job.key is not None and completion.final:
            self._cache.put(job.key, reply)
        for waiter in job.waiters:
            if not waiter.answered:
                self._answer(waiter, reply)

    def _run_again(self, completion: Completion) -> bool:
        """An attempt that timed out, joined by a retry with a later deadline: run it for the retry."""
        now = time.monotonic()
        later = [
            w
            for w in completion.job.waiters
            if not w.answered and w.deadline > max(now, completion.attempt_deadline)
        ]
        if not later:
            return False
        completion.job.waiters = later
        completion.job.deadline = max(w.deadline for w in later)
        self._outstanding[completion.job.index] += 1
        self._workers[completion.job.index].submit(completion.job)
        return True

    def _answer(self, waiter: Waiter, reply: bytes) -> None:
        waiter.answered = True
        self._send(waiter.route, reply)

    def _send(self, route: list[bytes], reply: bytes) -> None:
        send = self._router.send
        try:
            for frame in route:
                send(frame, _MORE)
            send(reply, zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # the peer is gone or its queue is full
            logger.debug("reply dropped: %s", exc)


def _readable(sock: zmq.Socket[bytes]) -> bool:
    """A message is waiting (ZMQ_EVENTS: no system call, no exception as a failed recv has)."""
    events: int = sock.get(zmq.EVENTS)  # type: ignore[assignment]
    return bool(events & zmq.POLLIN)


def _split(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(the route to answer on, the request frames): REQ and DEALER-with-delimiter keep b""."""
    identity, rest = frames[0], frames[1:]
    if len(rest) >= 2 and rest[0] == b"":
        return [identity, b""], rest[1:]
    return [identity], rest
