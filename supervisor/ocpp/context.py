"""What the central system's calls work with: the station's connectors, the journal, the link.

Handlers run on the bridge's loop; everything that blocks (a connector command, the journal)
goes through `io` (the bridge's worker thread), and a CALL of the charge point's own is made
only in an `@after` handler or a task of its own, never awaited by an `@on` handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocpp.v16 import call

from supervisor.ocpp.authorization import AuthorizationCache
from supervisor.ocpp.configuration import Configuration
from supervisor.ocpp.link import ChargePoint, Link
from supervisor.ocpp.port import Connectors
from supervisor.ocpp.sender import FAILURES, Io
from supervisor.ocpp.status import OcppStatus
from supervisor.ocpp.store import Store, Transaction

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 5.0  # a connector command on the central system's behalf


@dataclass
class Context:
    connectors: Connectors
    store: Store
    config: Configuration
    cache: AuthorizationCache
    io: Io
    link: Link
    status_now: Callable[[int], OcppStatus]  # a connector's status (0: the charge point), blocking
    changed: Callable[[], None]  # something to look at again (queued messages, limits)

    def valid_connector(self, connector_id: int | None, *, zero: bool = False) -> bool:
        count = self.connectors.count()
        return connector_id is not None and (1 if not zero else 0) <= connector_id <= count

    async def ask(self, index: int, message: object) -> Any:
        """A connector command; its reply, or None when the connector could not answer."""
        try:
            return await self.io(self.connectors.ask, index, message, COMMAND_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the central system gets an answer, the station lives
            log.warning("evse %d: %s failed: %r", index, type(message).__name__, exc)
            return None

    async def open_transaction(self, connector_id: int) -> Transaction | None:
        """The connector's transaction not yet stopped, if any."""
        transactions: list[Transaction] = await self.io(self.store.open_transactions)
        for transaction in transactions:
            if transaction.connector == connector_id:
                return transaction
        return None

    async def notify(self, connector_id: int, status: OcppStatus) -> None:
        """A StatusNotification now (from an `@after` handler or a task)."""
        charge_point = self.link.accepted
        if charge_point is None:
            return
        await send_status(charge_point, connector_id, status)


async def send_status(charge_point: ChargePoint, connector_id: int, status: OcppStatus) -> None:
    """One StatusNotification; a failure is logged, not raised (the next change sends again)."""
    request = call.StatusNotification(
        connector_id=connector_id, error_code=status.error_code, status=status.status, info=status.info
    )
    try:
        await charge_point.call(request, suppress=False)
    except FAILURES as exc:
        log.warning("StatusNotification of connector %d failed: %r", connector_id, exc)
