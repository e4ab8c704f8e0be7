"""Connector commands of a process-isolated station: to the connector's worker and back, on the socket thread.

Each serving worker has a DEALER here, polled by the request loop; a request goes out as
`[tag, b"", request]` (the worker's API answers on the same envelope) and its reply comes
back to the client's route. Around it the root keeps what the workers cannot:

- while a worker is down its requests wait (up to `queue_limit` per connector: `busy`),
  and are answered `unavailable` at their deadline if it is not back by then;
- a request in flight when its worker dies is sent to the new worker only when that is
  safe: a keyed one (client and id: the new worker answers it from its journal if it took
  effect, runs it if not) or a read; any other is answered `unavailable` at once;
- a given-up worker answers `unavailable`, except `disable` and `enable`, which restart it
  (its other connectors get a `disable` + `enable` of the root's own once it serves).

Per-connector order, `busy`, idempotency and deadlines are the worker's API's; the root's
deadline (a little later) only answers what no worker will.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import msgpack
import zmq

from supervisor.api.backend import Workers
from supervisor.api.commands import READS, Command
from supervisor.api.protocol import TIMEOUT_MESSAGE, Busy, Request, encode_error
from supervisor.api.router import RequestLoop

logger = logging.getLogger(__name__)

Answer = Callable[[list[bytes], bytes, Request | None, float, int], None]
GRACE_S = 0.05  # the worker answers its own deadline; the root only what nobody did
REVIVING = ("disable", "enable")
HWM = 100_000
_tags = itertools.count(1)
_revivals = itertools.count(1)


@dataclass
class Pending:
    tag: bytes
    route: list[bytes] | None  # None: the root's own request (a revival's disable + enable)
    frame: bytes
    request: Request | None
    index: int
    deadline_s: float
    started_s: float
    safe_again: bool  # may go to a new worker after its worker died
    answered: bool = False
    sent: bool = False


@dataclass
class Lane:
    """One worker as the relay sees it."""

    dealer: zmq.Socket[bytes] | None = None
    inflight: dict[bytes, Pending] = field(default_factory=dict)
    held: list[Pending] = field(default_factory=list)
    revive_others: tuple[int, ...] = ()  # connectors to disable + enable once it serves again


class Relay:
    def __init__(
        self,
        workers: Workers,
        context: zmq.Context[zmq.Socket[bytes]],
        loop: RequestLoop,
        answer: Answer,
        queue_limit: int,
    ) -> None:
        self._workers = workers
        self._context = context
        self._loop = loop
        self._answer = answer
        self._queue_limit = queue_limit
        self._lanes: dict[int, Lane] = {}
        self._by_tag: dict[bytes, tuple[int, Pending]] = {}
        self._deadlines: list[tuple[float, bytes]] = []

    def _lane(self, worker_id: int) -> Lane:
        lane = self._lanes.get(worker_id)
        if lane is None:
            lane = self._lanes[worker_id] = Lane()
        return lane

    # --- requests ------------------------------------------------------------------------

    def forward(
        self,
        route: list[bytes],
        frame: bytes,
        request: Request,
        command: Command,
        index: int,
        deadline_s: float,
        started_s: float,
    ) -> None:
        worker_id = self._workers.worker_id(index)
        lane = self._lane(worker_id)
        state = self._workers.state(worker_id)
        if state == "gave_up":
            if command.name not in REVIVING:
                message = (
                    f"connector {index}'s worker was given up after repeated failures; disable then enable it"
                )
                self._answer(
                    route, encode_error(request.id, "unavailable", message), request, started_s, index
                )
                return
            self._revive(worker_id, index)
        safe = request.client is not None or command.name in READS
        pending = Pending(
            f"{next(_tags)}".encode(), route, frame, request, index, deadline_s, started_s, safe
        )
        if lane.dealer is None:
            waiting = sum(1 for p in lane.held if p.index == index)
            if waiting >= self._queue_limit:
                raise Busy(
                    f"connector {index} already has {waiting} requests waiting for its worker; retry later"
                )
            lane.held.append(pending)
        else:
            self._send(lane, pending)
        self._by_tag[pending.tag] = (worker_id, pending)
        heapq.heappush(self._deadlines, (deadline_s, pending.tag))

    def _send(self, lane: Lane, pending: Pending) -> None:
        assert lane.dealer is not None
        try:
            lane.dealer.send_multipart([pending.tag, b"", pending.frame], zmq.NOBLOCK)
        except zmq.Again:
            self._reply(
                pending, encode_error(_id(pending), "busy", "the worker's queue is full; retry later")
            )
            return
        pending.sent = True
        lane.inflight[pending.tag] = pending

    def _read(self, worker_id: int) -> None:
        lane = self._lanes[worker_id]
        dealer = lane.dealer
        while dealer is not None and dealer.poll(0):
            frames = dealer.recv_multipart()
            if len(frames) != 3:
                continue
            pending = lane.inflight.pop(frames[0], None)
            if pending is not None:
                self._reply(pending, frames[2])

    def _reply(self, pending: Pending, reply: bytes) -> None:
        self._by_tag.pop(pending.tag, None)
        if pending.answered:
            return
        pending.answered = True
        if pending.route is not None:
            self._answer(pending.route, reply, pending.request, pending.started_s, pending.index)

    # --- deadlines -----------------------------------------------------------------------

    def expire(self, now_s: float) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now_s:
            due_s, tag = heapq.heappop(deadlines)
            found = self._by_tag.get(tag)
            if found is None:
                continue
            worker_id, pending = found
            lane = self._lanes[worker_id]
            if not pending.sent:
                lane.held.remove(pending)
                where = f"connector {pending.index}'s worker is restarting at the deadline"
                self._reply(pending, encode_error(_id(pending), "unavailable", where))
            elif due_s < pending.deadline_s + GRACE_S:
                heapq.heappush(deadlines, (pending.deadline_s + GRACE_S, tag))
            else:
                lane.inflight.pop(tag, None)
                self._reply(pending, encode_error(_id(pending), "timeout", TIMEOUT_MESSAGE))

    def timeout_ms(self, now_s: float) -> int | None:
        if not self._deadlines:
            return None
        return max(0, int((self._deadlines[0][0] - now_s) * 1000) + 1)

    # --- workers coming and going ----------------------------------------------------------

    def worker_changed(self, worker_id: int, serving: bool) -> None:
        """Posted to the socket thread whenever a worker starts or stops serving."""
        if serving:
            self._serving(worker_id)
        else:
            self._down(worker_id)

    def _serving(self, worker_id: int) -> None:
        lane = self._lane(worker_id)
        if lane.dealer is not None:
            return
        dealer = self._context.socket(zmq.DEALER)
        dealer.linger = 0
        dealer.sndhwm = dealer.rcvhwm = HWM
        dealer.connect(self._workers.endpoint(worker_id))
        lane.dealer = dealer
        self._loop.attach(dealer, lambda: self._read(worker_id))
        held, lane.held = lane.held, []
        for index in lane.revive_others:
            for name in REVIVING:
                self._send(lane, self._own(worker_id, index, name))
        lane.revive_others = ()
        for pending in held:
            if not pending.answered:
                self._send(lane, pending)

    def _down(self, worker_id: int) -> None:
        lane = self._lane(worker_id)
        if lane.dealer is not None:
            self._loop.detach(lane.dealer)
            lane.dealer.close(linger=0)
            lane.dealer = None
        again: list[Pending] = []
        for pending in lane.inflight.values():
            if pending.answered:
                continue
            if pending.safe_again:
                pending.sent = False
                again.append(pending)
            else:
                message = (
                    f"connector {pending.index}'s worker stopped while running this; it may have taken "
                    "effect (a request with a client and id is retried safely)"
                )
                self._reply(pending, encode_error(_id(pending), "unavailable", message))
        lane.inflight.clear()
        lane.held = again + lane.held

    def _revive(self, worker_id: int, index: int) -> None:
        if self._workers.revive(worker_id):
            others = tuple(i for i in self._workers.indexes(worker_id) if i != index)
            self._lane(worker_id).revive_others = others

    def _own(self, worker_id: int, index: int, name: str) -> Pending:
        """A request of the root's own (no client waits for it)."""
        request_id = f"revive-{next(_revivals)}"
        frame: bytes = msgpack.packb(
            {"v": 1, "id": request_id, "cmd": name, "evse": index, "client": "station"}
        )
        pending = Pending(f"{next(_tags)}".encode(), None, frame, None, index, float("inf"), 0.0, True)
        self._by_tag[pending.tag] = (worker_id, pending)
        return pending

    def close(self) -> None:
        for lane in self._lanes.values():
            if lane.dealer is not None:
                lane.dealer.close(linger=0)
                lane.dealer = None


def _id(pending: Pending) -> int | str | None:
    return None if pending.request is None else pending.request.id
