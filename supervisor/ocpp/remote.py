"""The central system runs the connectors: remote start and stop, reservations, unlock, cache.

Each call becomes the connector command the API would send (`authorize`, `cancel_charging`,
`reserve_now`, `cancel_reservation`, `force_unlock`); the connector decides, the answer says
what it decided. A remote start authorizes the connector without an Authorize.req unless
AuthorizeRemoteTxRequests is on; then the central system is asked after the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from actors.messages import Authorize, CancelCharging, CancelReservation, ForceUnlock, ReserveNow
from supervisor.config.ocpp import ID_TAG_MAX_CHARS
from supervisor.ocpp.authorization import Verdict
from supervisor.ocpp.context import Context
from supervisor.ocpp.status import OcppStatus

log = logging.getLogger(__name__)

ACCEPTED, REJECTED = "Accepted", "Rejected"
CheckTag = Callable[[str], Awaitable[Verdict]]  # the bridge's verdict on an idTag (Authorize.req)
TxProfile = Callable[[int, dict[str, Any]], bool]  # RemoteStart's chargingProfile kept for its transaction
_STARTABLE = ("WaitingForAuthentication", "Idle")  # a car waiting first, then a free connector


class RemoteControl:
    def __init__(self, ctx: Context, check_tag: CheckTag, tx_profile: TxProfile) -> None:
        self._ctx = ctx
        self._check_tag = check_tag
        self._tx_profile = tx_profile
        self._lock_failed: set[int] = set()  # answered UnlockFailed, its StatusNotification due

    # --- transactions ------------------------------------------------------------------------

    @on(Action.remote_start_transaction)
    async def on_remote_start(
        self, id_tag: str, connector_id: int | None = None, charging_profile: dict[str, Any] | None = None
    ) -> call_result.RemoteStartTransaction:
        index = await self._startable(connector_id)
        if index is None or len(id_tag) > ID_TAG_MAX_CHARS:
            return call_result.RemoteStartTransaction(status=REJECTED)
        if charging_profile is not None and not self._tx_profile(index, charging_profile):
            return call_result.RemoteStartTransaction(status=REJECTED)  # only a TxProfile
        if self._ctx.config.authorize_remote_tx_requests:
            return call_result.RemoteStartTransaction(status=ACCEPTED)  # asked after the answer
        accepted = await self._ctx.ask(index, Authorize(id_tag)) is True
        return call_result.RemoteStartTransaction(status=ACCEPTED if accepted else REJECTED)

    @after(Action.remote_start_transaction)
    async def after_remote_start(
        self, id_tag: str, connector_id: int | None = None, charging_profile: dict[str, Any] | None = None
    ) -> None:
        if not self._ctx.config.authorize_remote_tx_requests:
            return
        index = await self._startable(connector_id)
        verdict = await self._check_tag(id_tag)
        if index is None or not verdict.accepted:
            log.info("remote start of %s refused (%s, %s)", id_tag, verdict.status, verdict.source)
            return
        await self._ctx.ask(index, Authorize(id_tag, verdict.parent_id_tag))

    async def _startable(self, connector_id: int | None) -> int | None:
        """The connector to start: the one given if it can start a session, else the first that can."""
        count = self._ctx.connectors.count()
        if connector_id is not None and not 1 <= connector_id <= count:
            return None
        candidates = [connector_id] if connector_id is not None else list(range(1, count + 1))
        views = {index: await self._ctx.io(self._ctx.connectors.view, index) for index in candidates}
        for state in _STARTABLE:
            for index, view in views.items():
                if view.state == state and (view.session is None or not view.session.authorized):
                    return index
        return None

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        for transaction in await self._ctx.io(self._ctx.store.open_transactions):
            if transaction.transaction_id == transaction_id:
                stopped = await self._ctx.ask(transaction.connector, CancelCharging("Remote"))
                return call_result.RemoteStopTransaction(status=ACCEPTED if stopped is True else REJECTED)
        return call_result.RemoteStopTransaction(status=REJECTED)

    # --- reservations ------------------------------------------------------------------------

    @on(Action.reserve_now)
    async def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
    ) -> call_result.ReserveNow:
        expiry_s = _unix_s(expiry_date)
        if not self._ctx.valid_connector(connector_id) or expiry_s is None:
            return call_result.ReserveNow(status=REJECTED)  # connector 0 too: not supported
        reserve = ReserveNow(reservation_id, id_tag, expiry_s, parent_id_tag)
        verdict = await self._ctx.ask(connector_id, reserve)
        return call_result.ReserveNow(status=verdict if isinstance(verdict, str) else REJECTED)

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int) -> call_result.CancelReservation:
        for index in range(1, self._ctx.connectors.count() + 1):
            view = await self._ctx.io(self._ctx.connectors.view, index)
            if view.reservation_id == reservation_id:
                cancelled = await self._ctx.ask(index, CancelReservation())
                return call_result.CancelReservation(status=ACCEPTED if cancelled is True else REJECTED)
        return call_result.CancelReservation(status=REJECTED)

    # --- the lock ----------------------------------------------------------------------------

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id: int) -> call_result.UnlockConnector:
        if not self._ctx.valid_connector(connector_id) or not self._ctx.connectors.facts(connector_id).lock:
            return call_result.UnlockConnector(status="NotSupported")
        if await self._ctx.ask(connector_id, ForceUnlock()) is True:
            return call_result.UnlockConnector(status="Unlocked")
        self._lock_failed.add(connector_id)
        return call_result.UnlockConnector(status="UnlockFailed")

    @after(Action.unlock_connector)
    async def after_unlock(self, connector_id: int) -> None:
        """A lock that did not open: the connector's status now, with errorCode ConnectorLockFailure."""
        if connector_id not in self._lock_failed:
            return
        self._lock_failed.discard(connector_id)
        status: OcppStatus = await self._ctx.io(self._ctx.status_now, connector_id)
        failure = OcppStatus(status.status, "ConnectorLockFailure", "the lock did not open")
        await self._ctx.notify(connector_id, failure)

    # --- the rest of Core ----------------------------------------------------------------------

    @on(Action.clear_cache)
    async def on_clear_cache(self) -> call_result.ClearCache:
        self._ctx.cache.clear()
        await self._ctx.io(self._ctx.store.clear_cache)
        return call_result.ClearCache(status=ACCEPTED)

    @on(Action.data_transfer)
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="UnknownVendorId")


def _unix_s(date: str) -> float | None:
    try:
        return datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
