"""The client's connection: requests over a DEALER, retried the Lazy Pirate way.

connection = Connection("tcp://127.0.0.1:5555", timeout_s=5.0, retries=3)
connection.call("enable", 1)            # the result, ApiError or TimeoutError
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any, Self

import msgpack
import zmq

_RETRIED_CODES = frozenset({"timeout"})


class ApiError(Exception):
    """The station answered ok: false."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Connection:
    """Requests over a DEALER socket (with the empty delimiter), each answered once.

    A request without a reply within `timeout_s` is sent again (Lazy Pirate: a fresh
    socket, the same client and id, so the station runs it once) up to `retries` times;
    then TimeoutError. A `timeout` answer from the station is retried the same way.
    """

    def __init__(
        self,
        endpoint: str,
        publish_endpoint: str | None = None,
        timeout_s: float = 5.0,
        retries: int = 3,
        client_id: str | None = None,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.publish_endpoint = publish_endpoint
        self.timeout_s = timeout_s
        self.retries = retries
        self.client_id = client_id or uuid.uuid4().hex
        self._context = context or zmq.Context.instance()
        self._ids = itertools.count(1)
        self._socket: zmq.Socket[bytes] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def _dealer(self) -> zmq.Socket[bytes]:
        if self._socket is None:
            self._socket = self._context.socket(zmq.DEALER)
            self._socket.linger = 0
            self._socket.connect(self.endpoint)
        return self._socket

    def call(self, cmd: str, evse: int | str | None = None, **args: Any) -> Any:
        """Run one command; its result, or ApiError / TimeoutError."""
        request: dict[str, Any] = {"v": 1, "id": next(self._ids), "cmd": cmd, "client": self.client_id}
        if evse is not None:
            request["evse"] = evse
        if args:
            request["args"] = {name: value for name, value in args.items() if value is not None}
        request["timeout_ms"] = max(1, int(self.timeout_s * 1000))
        reply = self._exchange(request)
        if reply.get("ok") is True:
            return reply.get("result")
        error = reply.get("error") or {}
        raise ApiError(str(error.get("code")), str(error.get("message")))

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        payload = msgpack.packb(request)
        reply: dict[str, Any] | None = None
        for _ in range(self.retries + 1):
            reply = self._send_and_wait(payload, request["id"])
            if reply is not None and _code(reply) not in _RETRIED_CODES:
                return reply
        if reply is not None:
            return reply
        raise TimeoutError(
            f"no reply to {request['cmd']} from {self.endpoint} after {self.retries + 1} tries"
        )

    def _send_and_wait(self, payload: bytes, request_id: int) -> dict[str, Any] | None:
        """One try: the reply to this id, or None (and a fresh socket) when none came in time."""
        sock = self._dealer()
        sock.send_multipart([b"", payload])
        margin_s = min(0.5, max(0.05, self.timeout_s / 4))  # the station answers `timeout` at timeout_s
        wait_ms = int((self.timeout_s + margin_s) * 1000)
        while sock.poll(wait_ms, zmq.POLLIN):
            reply = msgpack.unpackb(sock.recv_multipart()[-1], raw=False)
            if isinstance(reply, dict) and reply.get("id") == request_id:
                return reply
        self.close()
        return None


def _code(reply: dict[str, Any]) -> str | None:
    if reply.get("ok") is True:
        return None
    error = reply.get("error")
    return error.get("code") if isinstance(error, dict) else None
