"""The OCPP bridge: the station as a charge point of its central system (spec/ocpp.md).

It runs beside the ZeroMQ API as a client of the connectors, with no charging logic of
its own: its asyncio loop (thread `ocpp-loop`) holds the WebSocket link and the library's
receive loop; everything that blocks (connector commands, the SQLite queue) runs on one
worker thread (`ocpp-io`), so no handler ever blocks the receive loop. While the link is
down the connectors go on charging and the transaction messages wait in the queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import pathlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ocpp.v16 import call

from actors.messages import Authorize
from supervisor.config.ocpp import OcppSettings
from supervisor.ocpp.authorization import AuthorizationCache, cached_tag
from supervisor.ocpp.authorizer import Authorizer
from supervisor.ocpp.configuration import KEPT, Configuration
from supervisor.ocpp.context import Context, send_status
from supervisor.ocpp.link import ChargePoint, Link
from supervisor.ocpp.operations import Operations, apply_scheduled
from supervisor.ocpp.port import Connectors
from supervisor.ocpp.remote import RemoteControl
from supervisor.ocpp.sender import FAILURES, Sender
from supervisor.ocpp.smart import PROFILES, SmartCharging
from supervisor.ocpp.status import OcppStatus, charge_point_status, ocpp_status
from supervisor.ocpp.store import Queued, Store
from supervisor.ocpp.transactions import Transactions
from supervisor.ocpp.trigger import Triggers

log = logging.getLogger(__name__)

T = TypeVar("T")
IN_TRANSACTION = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})
WATCH_S = 0.1  # how often the connectors' events and states are read
STOP_TIMEOUT_S = 2.0
LIMITS_S = 1.0  # a charging schedule moves with time: its limits are looked at this often


class OcppBridge:
    def __init__(self, settings: OcppSettings, connectors: Connectors, state_dir: pathlib.Path) -> None:
        self.settings = settings
        self._connectors = connectors
        self._store = Store(state_dir)  # first: JournalError refuses the start
        self._cache = AuthorizationCache(self._store.cached_tags())
        self._transactions = Transactions(self._store, connectors, settings)
        self._queue_length = self._store.length()
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ocpp-io")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="ocpp-loop", daemon=True)
        self._main: asyncio.Task[None] | None = None
        rotations = [connectors.facts(index).phase_rotation for index in range(1, connectors.count() + 1)]
        self._config = Configuration(settings, rotations, self._store.kept(KEPT))
        self._link = Link(self._config, self._online)
        self._sender = Sender(self._store, self._config, self._io, self._answered)
        self._reconfigured: list[asyncio.Event] = []  # one per loop that waits out an interval
        ctx = Context(
            connectors,
            self._store,
            self._config,
            self._cache,
            self._io,
            self._link,
            self._status,
            self._changed,
        )
        self._authorizer = Authorizer(ctx, self._loop)
        self._smart = SmartCharging(ctx, self._store.kept(PROFILES).get(PROFILES, []))
        remote = RemoteControl(ctx, self._authorizer.check_tag, self._smart.remote_start_profile)
        self._link.handlers += [remote, Operations(ctx), Triggers(ctx), self._smart]

    # --- life cycle (any thread) -------------------------------------------------------------

    def start(self) -> None:
        """Connect, and take up the open transactions once the connectors recovered."""
        self._main = self._loop.create_task(self._serve(), name="ocpp-bridge")
        self._thread.start()

    def stop(self) -> None:
        if self._main is None:  # never started
            self._store.close()
            self._loop.close()
        elif self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._main.cancel)
            self._thread.join(STOP_TIMEOUT_S)
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        assert self._main is not None
        try:
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self._main)
        finally:
            leftovers = asyncio.all_tasks(self._loop)
            for task in leftovers:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            with contextlib.suppress(Exception):
                self._worker.submit(self._close_store).result(STOP_TIMEOUT_S)
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _serve(self) -> None:
        log.info("OCPP bridge: charge point %s of %s", self.settings.charge_point_id, self.settings.endpoint)
        await asyncio.gather(self._link.run(), self._watch(), self._sample(), self._limits())

    def _close_store(self) -> None:
        self._store.close()

    async def _io(self, function: Callable[..., T], *args: Any) -> T:
        return await self._loop.run_in_executor(self._worker, function, *args)

    # --- offline and online work -------------------------------------------------------------

    async def _watch(self) -> None:
        """The open transactions taken up, then the connectors' new events become queued messages,
        online or not."""
        await self._queue_from(self._take_up)
        while True:
            await self._queue_from(self._poll)
            await asyncio.sleep(WATCH_S)

    async def _queue_from(self, work: Callable[[], bool]) -> None:
        """Run `work` on the worker; wake the sender when it queued something. A failure is logged:
        the next round tries again (a journal write that failed is written again then)."""
        try:
            if await self._io(work):
                self._sender.wake.set()
        except Exception:
            log.exception("OCPP bridge: %s failed", getattr(work, "__name__", work))

    def _take_up(self) -> bool:
        self._transactions.start()
        apply_scheduled(self._connectors, self._store)
        self._queue_length = self._store.length()
        return True

    def _poll(self) -> bool:
        queued = self._transactions.poll()
        apply_scheduled(self._connectors, self._store)
        self._queue_length = self._store.length()
        return queued

    def _sample_now(self) -> bool:
        return self._transactions.sample(self._config.sampled)

    async def _sample(self) -> None:
        """MeterValues every MeterValueSampleInterval (0: none), a change taking effect at once."""
        while True:
            interval_s = self._config.settings.meter_values_interval_s
            if await self._interval(interval_s or 1.0) and interval_s > 0:
                await self._queue_from(self._sample_now)

    async def _limits(self) -> None:
        """The charging profiles' limits of now to the allocation, at every change and every second."""
        while True:
            try:
                await self._smart.apply()
            except Exception:
                log.exception("OCPP bridge: applying the charging profiles failed")
            await self._interval(LIMITS_S)

    async def _interval(self, interval_s: float) -> bool:
        """Wait `interval_s`; False when the configuration changed first."""
        changed = asyncio.Event()
        self._reconfigured.append(changed)
        try:
            await asyncio.wait_for(changed.wait(), interval_s)
        except TimeoutError:
            return True
        finally:
            self._reconfigured.remove(changed)
        return False

    def _changed(self) -> None:
        """The central system changed something (on the loop): the waiting loops look again."""
        for event in self._reconfigured:
            event.set()
        self._sender.wake.set()

    async def _online(self, charge_point: ChargePoint, heartbeat_s: float) -> None:
        """Accepted by the central system: statuses, heartbeats and the queue until the link ends."""
        await asyncio.gather(
            self._statuses(charge_point),
            self._heartbeats(charge_point, heartbeat_s),
            self._sender.run(charge_point),
        )

    async def _heartbeats(self, charge_point: ChargePoint, interval_s: float) -> None:
        """Every HeartbeatInterval (BootNotification.conf's, or as changed since)."""
        while True:
            if not await self._interval(self._config.heartbeat_s):
                continue
            try:
                await charge_point.call(call.Heartbeat(), suppress=False)
            except FAILURES as exc:
                log.warning("Heartbeat failed: %r", exc)

    async def _statuses(self, charge_point: ChargePoint) -> None:
        """Every status at connection, then each change of a connector's state or active error."""
        sent: dict[int, OcppStatus] = {}
        while True:
            statuses, starting = await self._io(self._statuses_now)
            for connector_id, status in enumerate(statuses):
                if connector_id in starting and status.status in IN_TRANSACTION:
                    continue  # the central system hears of the transaction first
                if sent.get(connector_id) != status:
                    sent[connector_id] = status
                    await self._notify(charge_point, connector_id, status)
            await asyncio.sleep(WATCH_S)

    def _status(self, connector_id: int) -> OcppStatus:
        """One connector's status now (0: the charge point's)."""
        if connector_id:
            return ocpp_status(self._connectors.view(connector_id))
        views = [self._connectors.view(index) for index in range(1, self._connectors.count() + 1)]
        return charge_point_status(views)

    def _statuses_now(self) -> tuple[list[OcppStatus], set[int]]:
        """Connector 0 and every connector's status; the connectors whose StartTransaction waits."""
        views = [self._connectors.view(index) for index in range(1, self._connectors.count() + 1)]
        statuses = [charge_point_status(views), *(ocpp_status(view) for view in views)]
        return statuses, self._store.starting_connectors()

    async def _notify(self, charge_point: ChargePoint, connector_id: int, status: OcppStatus) -> None:
        await send_status(charge_point, connector_id, status)

    async def _answered(self, message: Queued, conf: Any) -> None:
        """What the central system's answer to a transaction message means for the station."""
        info = getattr(conf, "id_tag_info", None)
        id_tag = message.payload.get("idTag")
        if info and id_tag:
            tag = cached_tag(info)
            self._cache.update(id_tag, tag)
            await self._io(self._store.cache_tag, id_tag, tag)
        if message.action != "StartTransaction":
            return
        await self._io(self._store.set_transaction_id, message.tx, int(conf.transaction_id))
        if info and info.get("status") != "Accepted" and self._config.stop_transaction_on_invalid_id:
            log.warning(
                "transaction %s: idTag refused (%s): deauthorized", conf.transaction_id, info["status"]
            )
            await self._io(self._transactions.deauthorize, message.tx)

    # --- authorization (called from the API's threads) ---------------------------------------

    def authorize(self, index: int, request: Authorize, timeout_s: float) -> bool:
        """The connector's `authorize`, once the central system (or the cache) accepted the token."""
        return self._authorizer.authorize(index, request, timeout_s)

    # --- views -------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The `ocpp` entry of `status`."""
        return {
            "url": self.settings.endpoint,
            "connected": self._link.charge_point is not None,
            "registration": self._link.registration,
            "last_message_at": self._link.seen_at(),
            "queue_length": self._queue_length,
        }
