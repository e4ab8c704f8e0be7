"""The station's ZeroMQ API: a ROUTER for commands and an XPUB for publications (docs/wire.md).

    server = ApiServer(settings.api, backend)
    server.start()          # binds both sockets (zmq.ZMQError if it cannot), starts the threads
    server.command_endpoint, server.publish_endpoint   # what was bound
    server.stop()           # idempotent

Threads: the request loop (owns the ROUTER), one worker per connector plus one for slow
station commands, the XPUB thread and the heartbeat.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import zmq

from supervisor.api.backend import Backend
from supervisor.api.cache import ReplyCache
from supervisor.api.commands import message_of
from supervisor.api.protocol import BadArgs, encode_ok
from supervisor.api.publisher import Heartbeat, PublicationSink, configure_xpub
from supervisor.api.router import STATION_WORKER, RequestLoop
from supervisor.api.station_commands import StationCommands
from supervisor.api.workers import Completions, Job, Worker
from supervisor.config.settings import ApiSettings

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 64  # requests waiting per connector before `busy`
MAXMSGSIZE_FACTOR = 16
_instances = itertools.count(1)


def _ignore(topic: str, payload: dict[str, Any]) -> None:
    """The bus's sink once the server has stopped."""


class ApiServer:
    def __init__(
        self,
        settings: ApiSettings,
        backend: Backend,
        *,
        queue_limit: int = QUEUE_LIMIT,
        cache: ReplyCache | None = None,
        heartbeat_interval_s: float = 1.0,
    ) -> None:
        self._settings = settings
        self._backend = backend
        self._queue_limit = queue_limit
        self._cache = cache or ReplyCache()
        self._heartbeat_interval_s = heartbeat_interval_s
        self._station = StationCommands(backend)
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self.command_endpoint = ""
        self.publish_endpoint = ""

    def start(self) -> None:
        with self._lock:
            if self._started:
                raise RuntimeError("an ApiServer starts once")
            self._started = True
            for client, request_id, result in self._backend.stored_replies():  # journaled before this start
                self._cache.put((client, request_id), encode_ok(request_id, result))
            self._context = zmq.Context()
            try:
                self._open_sockets()
            except zmq.ZMQError:
                self._context.destroy(linger=0)
                raise
            self._start_threads()

    def _open_sockets(self) -> None:
        router = self._context.socket(zmq.ROUTER)
        router.linger = 0
        router.setsockopt(zmq.MAXMSGSIZE, MAXMSGSIZE_FACTOR * self._settings.max_message_bytes)
        router.bind(self._settings.command_endpoint)
        xpub = self._context.socket(zmq.XPUB)
        configure_xpub(xpub)
        xpub.bind(self._settings.publish_endpoint)
        wake_endpoint = f"inproc://api-wake-{next(_instances)}"
        wake = self._context.socket(zmq.PULL)
        wake.linger = 0
        wake.bind(wake_endpoint)
        push = self._context.socket(zmq.PUSH)
        push.linger = 0
        push.connect(wake_endpoint)
        self.command_endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.publish_endpoint = xpub.getsockopt_string(zmq.LAST_ENDPOINT)
        self._router, self._xpub, self._wake = router, xpub, wake
        self._completions = Completions(push)

    def _start_threads(self) -> None:
        names = {STATION_WORKER: "api-station"}
        indexes = [STATION_WORKER, *range(1, self._backend.evse_count() + 1)]
        self._workers = {
            index: Worker(names.get(index, f"api-evse-{index}"), self._run, self._completions)
            for index in indexes
        }
        self._loop = RequestLoop(
            self._router,
            self._wake,
            self._completions,
            self._workers,
            self._run,
            self._backend,
            self._station,
            request_timeout_s=self._settings.request_timeout_s,
            max_message_bytes=self._settings.max_message_bytes,
            queue_limit=self._queue_limit,
            cache=self._cache,
        )
        self._loop_thread = threading.Thread(target=self._loop.run, name="api-router", daemon=True)
        self._sink = PublicationSink(self._xpub)
        self._heartbeat = Heartbeat(self._station.heartbeat, self._heartbeat_interval_s)
        for worker in self._workers.values():
            worker.start()
        self._loop_thread.start()
        self._sink.start()
        self._backend.bus.attach(self._sink)
        self._heartbeat.start()

    def _run(self, job: Job, remaining_s: float) -> Any:
        command, backend, index, args = job.command, self._backend, job.index, job.args
        if command.route == "station":
            return self._station.run(command, args)
        if command.route == "events":
            return backend.events_since(index, int(args.get("since", 0)))
        if command.route == "sim":
            try:
                return backend.sim(index, command.name.removeprefix("sim_"), args)
            except ValueError as exc:  # the car's refusal of values the table let through
                raise BadArgs(f"{command.name}: {exc}") from None
        if command.route == "chaos":
            return backend.chaos(index, args["actor"], message_of(command, args), remaining_s)
        return backend.ask_session(index, message_of(command, args), remaining_s, job.key)

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the threads and close the sockets; a worker stuck in the station is left behind."""
        with self._lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
        deadline = time.monotonic() + timeout_s
        self._backend.bus.attach(_ignore)
        self._heartbeat.stop(timeout_s)
        self._loop.stopping.set()
        self._completions.wake()
        self._loop_thread.join(max(0.1, deadline - time.monotonic()))
        stuck = [
            index for index, worker in self._workers.items() if not worker.stop(deadline - time.monotonic())
        ]
        if stuck:
            logger.warning("API workers of connectors %s still busy at stop; left behind", stuck)
        self._completions.close()
        self._sink.stop(max(0.1, deadline - time.monotonic()))
        if self._loop_thread.is_alive() or self._sink.alive:
            logger.error("an API socket thread did not stop; its context stays open")
            return
        self._context.term()
