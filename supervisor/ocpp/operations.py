"""ChangeAvailability and Reset: the central system takes connectors out of service, restarts them.

Inoperative is the connector's `disable`, Operative its `enable`. During a transaction a
change is Scheduled: kept in the journal (so it outlives a restart) and applied once the
connector has no transaction any more (`apply_scheduled`, run by the bridge's watch). A
Reset stops every open transaction with SoftReset / HardReset, restarts the connectors'
actors as the `restart` command does (Hard: the board's power off first) and ends the
connection: the link connects again with a new BootNotification.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from actors.messages import CancelCharging, Disable, Enable
from supervisor.ocpp.context import Context
from supervisor.ocpp.port import Connectors
from supervisor.ocpp.store import Store

log = logging.getLogger(__name__)

SCHEDULED = "availability."  # the journal's keys: availability.<connector> → "Operative" / "Inoperative"
RESET_STOPS_WAIT_S = 5.0  # for the reset's StopTransactions to be queued before the restart
_COMMAND_TIMEOUT_S = 5.0
WATCH_S = 0.05


class Operations:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._resetting = False

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str) -> call_result.ChangeAvailability:
        if not self._ctx.valid_connector(connector_id, zero=True):
            return call_result.ChangeAvailability(status="Rejected")
        indexes = [connector_id] if connector_id else list(range(1, self._ctx.connectors.count() + 1))
        statuses = [await self._ctx.io(self._change, index, type) for index in indexes]
        for status in ("Rejected", "Scheduled"):
            if status in statuses:
                return call_result.ChangeAvailability(status=status)
        return call_result.ChangeAvailability(status="Accepted")

    def _change(self, index: int, availability: str) -> str:
        """On the worker: applied now (Accepted / Rejected), or kept for the end of the transaction."""
        view = self._ctx.connectors.view(index)
        if view.in_transaction and availability == "Inoperative":
            self._ctx.store.keep(f"{SCHEDULED}{index}", availability)
            return "Scheduled"
        self._ctx.store.keep(f"{SCHEDULED}{index}", None)
        return "Accepted" if _apply(self._ctx.connectors, index, availability) else "Rejected"

    # --- reset -------------------------------------------------------------------------------

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        if self._resetting:
            return call_result.Reset(status="Rejected")
        self._resetting = True
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str) -> None:
        hard = type == "Hard"
        try:
            await self._ctx.io(self._stop_all, hard)
            await self._stops_queued()
            for index in range(1, self._ctx.connectors.count() + 1):
                await self._ctx.io(self._ctx.connectors.restart, index, hard)
            await self._ctx.link.drop()
        except Exception:
            log.exception("%s reset failed", type)
        finally:
            self._resetting = False

    def _stop_all(self, hard: bool) -> None:
        """On the worker: every open session cancelled with the reset's reason."""
        connectors, reason = self._ctx.connectors, "HardReset" if hard else "SoftReset"
        log.warning("%s: stopping every transaction, restarting the connectors", reason)
        for index in range(1, connectors.count() + 1):
            if connectors.view(index).session is not None:
                try:
                    connectors.ask(index, CancelCharging(reason), _COMMAND_TIMEOUT_S)
                except Exception as exc:  # noqa: BLE001 - the reset goes on
                    log.warning("evse %d: %s not stopped: %r", index, reason, exc)

    async def _stops_queued(self) -> None:
        """Until the bridge's watch queued the stop of every open transaction (bounded)."""
        deadline = time.monotonic() + RESET_STOPS_WAIT_S
        while await self._ctx.io(self._ctx.store.open_transactions):
            if time.monotonic() > deadline:
                log.warning("reset: transactions still open after %g s", RESET_STOPS_WAIT_S)
                return
            await asyncio.sleep(WATCH_S)


def apply_scheduled(connectors: Connectors, store: Store) -> None:
    """On the worker: each availability change kept for a connector without a transaction now."""
    for key, availability in store.kept(SCHEDULED).items():
        index = int(key.removeprefix(SCHEDULED))
        if not 1 <= index <= connectors.count():
            store.keep(key, None)
            continue
        if connectors.view(index).in_transaction:
            continue
        if _apply(connectors, index, str(availability)):
            log.info("evse %d: %s, as scheduled at the end of its transaction", index, availability)
            store.keep(key, None)


def _apply(connectors: Connectors, index: int, availability: str) -> bool:
    command = Enable() if availability == "Operative" else Disable()
    try:
        return connectors.ask(index, command, _COMMAND_TIMEOUT_S) is True
    except Exception as exc:  # noqa: BLE001 - answered Rejected, tried again at the next change
        log.warning("evse %d: %s not applied: %r", index, availability, exc)
        return False
