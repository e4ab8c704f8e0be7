"""GetConfiguration / ChangeConfiguration and TriggerMessage: the central system reads, sets, asks.

A key ChangeConfiguration accepted is kept in the bridge's journal and takes effect at its
next use (the sampling and heartbeat loops wake at once). TriggerMessage answers first, then
sends the message asked for: BootNotification, Heartbeat, StatusNotification, MeterValues
(with context Trigger, of the connector given or of every one); the others NotImplemented.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ocpp.charge_point import camel_to_snake_case
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from supervisor.ocpp import payloads
from supervisor.ocpp.configuration import KEPT
from supervisor.ocpp.context import Context
from supervisor.ocpp.sender import FAILURES

log = logging.getLogger(__name__)

TRIGGERED = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues")


class Triggers:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    # --- configuration -----------------------------------------------------------------------

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        values = self._ctx.config.values()
        names = key if key else list(values)
        known = [
            {"key": name, "readonly": values[name][1], "value": values[name][0]}
            for name in names
            if name in values
        ]
        unknown = [name for name in names if name not in values]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        status = self._ctx.config.change(key, value)
        if status == "Accepted":
            await self._ctx.io(self._ctx.store.keep, f"{KEPT}{key}", value)
            log.info("configuration: %s = %s", key, value)
            self._ctx.changed()
        return call_result.ChangeConfiguration(status=status)

    # --- triggers ----------------------------------------------------------------------------

    @on(Action.trigger_message)
    def on_trigger(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        if requested_message not in TRIGGERED:
            return call_result.TriggerMessage(status="NotImplemented")
        if connector_id is not None and not self._ctx.valid_connector(connector_id, zero=True):
            return call_result.TriggerMessage(status="Rejected")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    async def after_trigger(self, requested_message: str, connector_id: int | None = None) -> None:
        charge_point = self._ctx.link.accepted
        if charge_point is None or requested_message not in TRIGGERED:
            return
        if connector_id is not None and not self._ctx.valid_connector(connector_id, zero=True):
            return
        try:
            for request in await self._requests(requested_message, connector_id):
                await charge_point.call(request, suppress=False)
        except FAILURES as exc:
            log.warning("triggered %s failed: %r", requested_message, exc)

    async def _requests(self, message: str, connector_id: int | None) -> list[Any]:
        s = self._ctx.config.settings
        if message == "BootNotification":
            return [call.BootNotification(charge_point_model=s.model, charge_point_vendor=s.vendor)]
        if message == "Heartbeat":
            return [call.Heartbeat()]
        every = range(0, self._ctx.connectors.count() + 1)
        if message == "StatusNotification":
            indexes = [connector_id] if connector_id is not None else list(every)
            requests = []
            for index in indexes:
                status = await self._ctx.io(self._ctx.status_now, index)
                requests.append(
                    call.StatusNotification(
                        connector_id=index,
                        error_code=status.error_code,
                        status=status.status,
                        info=status.info,
                    )
                )
            return requests
        indexes = [connector_id] if connector_id else list(every)[1:]
        return [request for index in indexes if (request := await self._meter_values(index)) is not None]

    async def _meter_values(self, index: int) -> Any:
        reading = await self._ctx.io(self._ctx.connectors.powermeter, index)
        if reading is None:
            return None
        values = [
            v
            for v in payloads.sampled_values(reading, "Trigger")
            if v["measurand"] in self._ctx.config.sampled
        ]
        message = payloads.meter_values(index, time.time(), values)
        transaction = await self._ctx.open_transaction(index)
        if transaction is not None and transaction.transaction_id is not None:
            message["transactionId"] = transaction.transaction_id
        return call.MeterValues(**camel_to_snake_case(message))
