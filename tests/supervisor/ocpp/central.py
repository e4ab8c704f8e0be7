"""A central system for the tests, written with the `ocpp` library's central-system side.

It serves OCPP 1.6J over real WebSockets on a loopback port, in its own thread with its
own asyncio loop, records every CALL a charge point sends (action and camelCase payload,
in arrival order) and answers them as told: boot statuses, idTag verdicts, and per action
a script of misbehaviours ("error": a CallError, "silent": no answer at all).
`stop` takes it down (the station sees the connection close); `start` brings it back on
the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import Server, ServerConnection
from websockets.typing import Subprotocol

WAIT_S = 20.0
Payload = dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Served(ChargePoint):
    """One connected charge point, as the central system sees it."""

    def __init__(self, charge_point_id: str, connection: ServerConnection, central: CentralSystem) -> None:
        super().__init__(charge_point_id, connection)
        self.central = central

    async def route_message(self, raw_msg: str) -> None:
        message = json.loads(raw_msg)
        if message[0] == 2:  # a CALL
            behaviour = self.central.record(message[2], message[3])
            if behaviour == "silent":
                return
        await super().route_message(raw_msg)

    def _misbehave(self, action: str) -> None:
        if self.central.behaviour_now.pop(action, None) == "error":
            raise InternalError(description=f"told to fail {action}")

    @on(Action.boot_notification)
    def on_boot(self, **kwargs: Any) -> Any:
        self._misbehave("BootNotification")
        status, interval = self.central.next_boot()
        return call_result.BootNotification(current_time=_now(), interval=interval, status=status)

    @on(Action.heartbeat)
    def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status(self, **kwargs: Any) -> Any:
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> Any:
        self._misbehave("Authorize")
        return call_result.Authorize(id_tag_info=self.central.id_tag_info(id_tag))

    @on(Action.start_transaction)
    def on_start(self, id_tag: str, **kwargs: Any) -> Any:
        self._misbehave("StartTransaction")
        transaction_id = self.central.new_transaction_id()
        self.central.given.append((transaction_id, kwargs["connector_id"]))
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info=self.central.id_tag_info(id_tag)
        )

    @on(Action.stop_transaction)
    def on_stop(self, **kwargs: Any) -> Any:
        self._misbehave("StopTransaction")
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs: Any) -> Any:
        self._misbehave("MeterValues")
        return call_result.MeterValues()


class CentralSystem:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Payload]] = []
        self.paths: list[str] = []
        self.authorizations: list[str | None] = []  # each connection's Authorization header
        self.tags: dict[str, str] = {}  # idTag → status
        self.unknown_tags = "Invalid"  # the status of a tag not in `tags`
        self.echo = False  # print every CALL as it arrives (the demo)
        self.parents: dict[str, str] = {}
        self.boots: list[tuple[str, int]] = []  # answers to BootNotification, then Accepted
        self.script: dict[str, list[str]] = {}  # action → behaviours for its next calls
        self.behaviour_now: dict[str, str] = {}
        self._transaction_id = 100
        self.given: list[tuple[int, int]] = []  # (transactionId, connectorId) in the order given
        self._changed = threading.Condition(threading.RLock())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="central-system", daemon=True)
        self._thread.start()
        self._server: Server | None = None
        self.port = 0
        self.served: _Served | None = None  # the charge point connected last

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # --- up and down -----------------------------------------------------------------------

    def start(self) -> CentralSystem:
        self._server = self._run(self._serve())
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        return self

    async def _serve(self) -> Server:
        return await websockets.serve(
            self._connected, "127.0.0.1", self.port, subprotocols=[Subprotocol("ocpp1.6")]
        )

    def stop(self) -> None:
        """Down: the listening socket and every connection closed."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            self._run(server.wait_closed())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(WAIT_S)

    async def _connected(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        self.paths.append(connection.request.path)
        self.authorizations.append(connection.request.headers.get("Authorization"))
        served = _Served(connection.request.path.strip("/"), connection, self)
        self.served = served
        with contextlib.suppress(websockets.ConnectionClosed):
            await served.start()

    def send(self, request: Any, timeout_s: float = WAIT_S) -> Any:
        """A CALL to the charge point connected last (a `call` payload of the library); its
        answer, or the library's exception for a CallError (NotImplementedError, ...)."""
        served = self.served
        assert served is not None, "no charge point connected"
        future = asyncio.run_coroutine_threadsafe(served.call(request, suppress=False), self._loop)
        return future.result(timeout_s)

    # --- answers ---------------------------------------------------------------------------

    def record(self, action: str, payload: Payload) -> str | None:
        """Note a CALL; the behaviour scripted for it (consumed), if any."""
        behaviours = self.script.get(action)
        behaviour = behaviours.pop(0) if behaviours else None
        if behaviour == "error":
            self.behaviour_now[action] = "error"
        if self.echo:
            print(f"{action} {json.dumps(payload)}", flush=True)
        with self._changed:
            self.calls.append((action, payload))
            self._changed.notify_all()
        return behaviour

    def next_boot(self) -> tuple[str, int]:
        return self.boots.pop(0) if self.boots else ("Accepted", 300)

    def id_tag_info(self, id_tag: str) -> Payload:
        info: Payload = {"status": self.tags.get(id_tag, self.unknown_tags)}
        if id_tag in self.parents:
            info["parentIdTag"] = self.parents[id_tag]
        return info

    def new_transaction_id(self) -> int:
        self._transaction_id += 1
        return self._transaction_id

    # --- what arrived ----------------------------------------------------------------------

    def of(self, action: str) -> list[Payload]:
        with self._changed:
            return [payload for name, payload in self.calls if name == action]

    def wait_for(
        self, action: str, match: Callable[[Payload], bool] = lambda p: True, timeout_s: float = WAIT_S
    ) -> Payload:
        """The first CALL of `action` whose payload matches (arrived already or arriving)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for name, payload in self.calls:
                    if name == action and match(payload):
                        return payload
                left_s = deadline - time.monotonic()
                if left_s <= 0:
                    raise TimeoutError(f"no {action} matching within {timeout_s} s; got {self.calls[-5:]}")
                self._changed.wait(left_s)

    def wait_count(
        self, action: str, count: int, match: Callable[[Payload], bool] = lambda p: True
    ) -> list[Payload]:
        """The first `count` CALLs of `action` that match, once that many arrived."""
        deadline = time.monotonic() + WAIT_S
        with self._changed:
            while len(found := [p for p in self.of(action) if match(p)]) < count:
                left_s = deadline - time.monotonic()
                if left_s <= 0:
                    raise TimeoutError(f"{len(found)} {action}, not {count}, within {WAIT_S} s")
                self._changed.wait(left_s)
        return found[:count]

    def wait_statuses(self, connector_id: int, wanted: list[str], timeout_s: float = WAIT_S) -> list[str]:
        """The connector's statuses once `wanted` is among them, in that order."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not _in_order(wanted, seen := self.statuses(connector_id)):
                left_s = deadline - time.monotonic()
                if left_s <= 0:
                    raise TimeoutError(f"connector {connector_id}: statuses {seen}, not {wanted}")
                self._changed.wait(left_s)
        return seen

    def statuses(self, connector_id: int) -> list[str]:
        """The connector's reported statuses, consecutive repeats folded."""
        folded: list[str] = []
        for payload in self.of("StatusNotification"):
            if payload["connectorId"] == connector_id and (not folded or folded[-1] != payload["status"]):
                folded.append(payload["status"])
        return folded


def eventually(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Poll `condition` (bounded) until it holds; for states that publish no event of their own."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {what} within {timeout_s} s")
        pause.wait(0.05)


def _in_order(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(any(item == s for s in remaining) for item in wanted)


def main() -> None:
    """A demo central system on ws://127.0.0.1:9000 that accepts every idTag and prints each CALL."""
    central = CentralSystem()
    central.port, central.unknown_tags, central.echo = 9000, "Accepted", True
    central.start()
    print(f"central system on {central.url}; Ctrl-C stops it", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    central.close()


if __name__ == "__main__":
    main()
