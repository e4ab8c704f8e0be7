"""Sends the queued transaction messages, oldest first, one at a time, each until it is answered.

A message leaves the queue only once the central system answered it. One that times out
or gets a CallError is tried again after TransactionMessageRetryInterval times the attempt
number, up to TransactionMessageAttempts; then it is dropped with an error in the log,
together with the rest of its transaction's queued messages. A lost connection is no
attempt: the message waits for the next connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import websockets
from ocpp.charge_point import camel_to_snake_case
from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError
from ocpp.v16 import call

from supervisor.config.ocpp import OcppSettings
from supervisor.ocpp.configuration import Configuration
from supervisor.ocpp.link import ChargePoint
from supervisor.ocpp.store import Queued, Store

log = logging.getLogger(__name__)

T = TypeVar("T")
Io = Callable[..., Awaitable[Any]]  # runs a blocking function on the bridge's worker thread
Answered = Callable[[Queued, Any], Awaitable[None]]  # what an answer means (transactionId, idTagInfo)
FAILURES = (TimeoutError, OCPPError, UnknownCallErrorCodeError)


class Sender:
    def __init__(self, store: Store, config: Configuration, io: Io, answered: Answered) -> None:
        self._store = store
        self._config = config
        self._io = io
        self._answered = answered
        self.wake = asyncio.Event()  # set when something was queued

    @property
    def _settings(self) -> OcppSettings:
        return self._config.settings  # TransactionMessageAttempts / RetryInterval as changed

    async def run(self, charge_point: ChargePoint) -> None:
        """Send until the queue is empty, wait for more; ends only with the connection."""
        while True:
            message: Queued | None = await self._io(self._store.head)
            if message is None:
                self.wake.clear()
                await self.wake.wait()
                continue
            payload: dict[str, Any] | None = await self._io(self._resolve, message)
            if payload is None:
                log.error(
                    "dropping %s of a transaction that never started (seq %d)", message.action, message.seq
                )
                await self._io(self._store.drop_transaction, message.tx)
                continue
            await self._send(charge_point, message, payload)

    async def _send(self, charge_point: ChargePoint, message: Queued, payload: dict[str, Any]) -> None:
        try:
            request = getattr(call, message.action)(**camel_to_snake_case(payload))
            conf = await charge_point.call(request, suppress=False)
        except websockets.ConnectionClosed:
            raise  # no attempt: the message waits for the next connection
        except Exception as exc:  # noqa: BLE001 - FAILURES, or a payload the library refuses to send
            await self._failed(message, exc)
            return
        await self._answered(message, conf)
        await self._io(self._store.sent, message)

    async def _failed(self, message: Queued, exc: Exception) -> None:
        attempts: int = await self._io(self._store.failed, message)
        limit = self._settings.transaction_message_attempts
        if attempts >= limit:
            dropped = await self._io(self._store.drop_transaction, message.tx)
            log.error(
                "%s not accepted after %d attempts (%r): dropped with %d queued messages of its transaction",
                message.action,
                attempts,
                exc,
                dropped,
            )
            return
        log.warning("%s attempt %d of %d failed: %r", message.action, attempts, limit, exc)
        await asyncio.sleep(self._settings.transaction_message_retry_interval_s * attempts)

    def _resolve(self, message: Queued) -> dict[str, Any] | None:
        """The payload as it goes out: with its transaction's id, None when there is none."""
        if message.action == "StartTransaction":
            return message.payload
        transaction = self._store.transaction(message.tx)
        if transaction is None or transaction.transaction_id is None:
            return None
        return {**message.payload, "transactionId": transaction.transaction_id}
