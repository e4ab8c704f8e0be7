"""The WebSocket link to the central system: connect with backoff, BootNotification, receive.

`Link.run` keeps one connection at a time to `<url>/<charge_point_id>` (subprotocol
ocpp1.6, HTTP basic auth when a password is set), retried 1 s doubling to 60 s. On each
connection BootNotification comes first, retried after the given interval while the
answer is Pending or Rejected; once Accepted the bridge's `online` work runs beside the
library's receive loop until either ends (the connection closed), then the link goes on.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import websockets
from ocpp.routing import create_route_map
from ocpp.v16 import ChargePoint as LibraryChargePoint
from ocpp.v16 import call
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from supervisor.config.ocpp import OcppSettings
from supervisor.ocpp.configuration import Configuration

log = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("ocpp1.6")
LINK_ERRORS = (OSError, TimeoutError, websockets.WebSocketException)


class ChargePoint(LibraryChargePoint):
    """The library's charge point side, its CALLs routed by the library to the `@on` / `@after`
    handlers of `handlers`; notes when the central system last sent a message. An action
    without a handler is answered NotImplemented (NotSupported when OCPP 1.6 has no such action)."""

    def __init__(
        self,
        charge_point_id: str,
        connection: ClientConnection,
        response_timeout_s: float,
        handlers: Sequence[object] = (),
    ) -> None:
        super().__init__(charge_point_id, connection, response_timeout=response_timeout_s)
        for handler in handlers:
            self.route_map.update(create_route_map(handler))
        self.last_message_at: float | None = None

    async def route_message(self, raw_msg: str) -> None:
        self.last_message_at = time.time()
        await super().route_message(raw_msg)


Online = Callable[[ChargePoint, float], Awaitable[None]]  # the accepted charge point, heartbeat s


class Link:
    def __init__(self, config: Configuration, online: Online, handlers: Sequence[object] = ()) -> None:
        self._config = config
        self._online = online
        self.handlers = list(handlers)  # the objects whose `@on` / `@after` handlers answer CALLs
        self.charge_point: ChargePoint | None = None  # set while connected
        self.registration: str | None = None  # the last BootNotification status
        self.last_message_at: float | None = None

    @property
    def accepted(self) -> ChargePoint | None:
        """The charge point once the central system accepted it, else None."""
        return self.charge_point if self.registration == "Accepted" else None

    @property
    def _settings(self) -> OcppSettings:
        return self._config.settings

    async def run(self) -> None:
        delay_s = self._settings.reconnect_min_s
        while True:
            accepted = False
            try:
                accepted = await self._connection()
            except LINK_ERRORS as exc:
                log.warning("central system %s: %s", self._settings.endpoint, exc or type(exc).__name__)
            except Exception:  # whatever ends a connection, the link goes on
                log.exception("central system %s: the connection failed", self._settings.endpoint)
            finally:
                self.charge_point, self.registration = None, None
            delay_s = self._settings.reconnect_min_s if accepted else delay_s
            await asyncio.sleep(delay_s)
            delay_s = min(2 * delay_s, self._settings.reconnect_max_s)

    async def _connection(self) -> bool:
        """One connection until it closes; True when the central system accepted the station."""
        s = self._settings
        async with websockets.connect(
            s.endpoint,
            subprotocols=[SUBPROTOCOL],
            additional_headers=self._headers(),
            open_timeout=s.connect_timeout_s,
            close_timeout=1,
        ) as connection:
            log.info("connected to the central system %s", s.endpoint)
            charge_point = ChargePoint(s.charge_point_id, connection, s.response_timeout_s, self.handlers)
            self.charge_point = charge_point
            receiver = asyncio.create_task(charge_point.start(), name="ocpp-receive")
            work = asyncio.create_task(self._boot_then_online(charge_point), name="ocpp-online")
            try:
                done, _ = await asyncio.wait({receiver, work}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                self.last_message_at = charge_point.last_message_at
                for task in (receiver, work):
                    task.cancel()
                await asyncio.gather(receiver, work, return_exceptions=True)
            return self.registration == "Accepted"

    async def _boot_then_online(self, charge_point: ChargePoint) -> None:
        boot = call.BootNotification(
            charge_point_model=self._settings.model, charge_point_vendor=self._settings.vendor
        )
        while True:
            conf: Any = await charge_point.call(boot, suppress=False)
            self.registration = str(conf.status)
            interval_s = float(conf.interval)
            if self.registration == "Accepted":
                break
            log.warning("central system answered BootNotification %s; again in %g s", conf.status, interval_s)
            await asyncio.sleep(interval_s if interval_s > 0 else self._settings.reconnect_min_s)
        if interval_s > 0:
            self._config.heartbeat_s = interval_s  # HeartbeatInterval
        await self._online(charge_point, self._config.heartbeat_s)

    def _headers(self) -> dict[str, str]:
        password = self._settings.basic_auth_password
        if password is None:
            return {}
        credentials = f"{self._settings.charge_point_id}:{password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}

    async def drop(self) -> None:
        """Close the connection (a reset): the link connects again, with a new BootNotification."""
        charge_point = self.charge_point
        if charge_point is not None:
            await charge_point._connection.close()

    def seen_at(self) -> float | None:
        """When the central system last sent a message (this connection or the last one)."""
        charge_point = self.charge_point
        if charge_point is not None and charge_point.last_message_at is not None:
            return charge_point.last_message_at
        return self.last_message_at
