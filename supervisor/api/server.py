"""The station's ZeroMQ API: a ROUTER for commands and an XPUB for publications (docs/wire.md).

    server = ApiServer(settings.api, backend)
    server.start()          # binds both sockets (zmq.ZMQError if it cannot), starts the threads
    server.command_endpoint, server.publish_endpoint   # what was bound
    server.stop()           # idempotent

Threads: the request loop (owns the ROUTER; connector commands go from it straight to
the connectors' actors), one station worker for `status` and `list_evses`, a few workers
for connector commands that must wait on the station, the XPUB thread and the heartbeat.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import zmq

from supervisor.api.backend import Backend, RequestObserver
from supervisor.api.cache import ReplyCache
from supervisor.api.dispatch import Dispatcher, Rules, Threads
from supervisor.api.inbox import Inbox
from supervisor.api.protocol import encode_ok
from supervisor.api.publisher import Heartbeat, PublicationSink, configure_xpub
from supervisor.api.relay import Relay
from supervisor.api.router import RequestLoop
from supervisor.api.station_commands import Hook
from supervisor.api.workers import Worker
from supervisor.config.settings import ApiSettings

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 64  # requests waiting per connector before `busy`
BLOCKING_THREADS = 4  # connectors whose commands may wait on the station (e.g. the central system) at once
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
        observer: RequestObserver | None = None,
        station_hooks: Mapping[str, Hook] | None = None,
    ) -> None:
        self._settings = settings
        self._backend = backend
        self._queue_limit = queue_limit
        self._cache = cache or ReplyCache()
        self._heartbeat_interval_s = heartbeat_interval_s
        self._observer = observer
        self._station_hooks = station_hooks
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
        self._inbox = Inbox(push)

    def _start_threads(self) -> None:
        self._worker = Worker("api-station", self._inbox)
        self._blocking = Worker("api-blocking", self._inbox, threads=BLOCKING_THREADS)
        self._loop = RequestLoop(self._router, self._wake, self._inbox)
        self._dispatcher = Dispatcher(
            self._backend,
            Threads(self._inbox, self._loop.send, self._worker, self._blocking),
            Rules(self._settings, self._queue_limit, self._cache),
            self._observer,
            self._station_hooks,
        )
        self._relay = self._relay_to_workers()
        self._loop_thread = threading.Thread(
            target=self._loop.run, args=(self._dispatcher,), name="api-router", daemon=True
        )
        self._sink = PublicationSink(self._xpub)
        self._heartbeat = Heartbeat(self._dispatcher.station.heartbeat, self._heartbeat_interval_s)
        self._worker.start()
        self._blocking.start()
        self._loop_thread.start()
        self._sink.start()
        self._backend.bus.attach(self._publish)
        self._heartbeat.start()

    def wait_subscribed(self, timeout_s: float) -> bool:
        """True once a subscriber's subscription reached the XPUB (a worker's root, say)."""
        return self._sink.subscribed.wait(timeout_s)

    def _relay_to_workers(self) -> Relay | None:
        """Process isolation: connector commands relayed to the workers, told when each serves."""
        workers = self._backend.workers
        if workers is None:
            return None
        relay = Relay(workers, self._context, self._loop, self._dispatcher.reply, self._queue_limit)
        self._dispatcher.relay = relay

        def changed(worker_id: int, serving: bool) -> None:
            self._inbox.post(partial(relay.worker_changed, worker_id, serving))

        workers.watch(changed)
        return relay

    def _publish(self, topic: str, payload: dict[str, Any]) -> None:
        """The bus's sink: to the XPUB; a supervision event also makes its connector's lane look again."""
        if topic == "station/supervision":
            evse = payload["value"].get("evse")
            if isinstance(evse, int):
                self._inbox.post(partial(self._dispatcher.lanes.recheck, evse))
        self._sink(topic, payload)

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the threads and close the sockets; a station job stuck in the station is left behind."""
        with self._lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
        deadline = time.monotonic() + timeout_s
        self._backend.bus.attach(_ignore)
        self._heartbeat.stop(timeout_s)
        self._loop.stopping.set()
        self._inbox.wake()
        self._loop_thread.join(max(0.1, deadline - time.monotonic()))
        for worker in (self._worker, self._blocking):
            if not worker.stop(max(0.0, deadline - time.monotonic())):
                logger.warning("an API worker is still busy at stop; left behind")
        self._inbox.close()
        if self._relay is not None:
            self._relay.close()
        self._sink.stop(max(0.1, deadline - time.monotonic()))
        if self._loop_thread.is_alive() or self._sink.alive:
            logger.error("an API socket thread did not stop; its context stays open")
            return
        self._context.term()
