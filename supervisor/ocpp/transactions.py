"""Transactions from the connectors' session events: what to queue, in which order.

A transaction starts when a session is authorized with the car plugged in (ChargingStarted:
meterStart is the begin reading, taken at authorization and signed with the token), stops
at SessionCancelled (its reason) or SessionFinished (EVDisconnected), and samples the meter
in between. At start the bridge takes up its open transactions: one whose session is no
longer on its connector was ended by a restart and stops with PowerLoss. Everything here
runs on the bridge's worker thread; the connectors decide, this only records.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from actors.messages import CancelCharging, GetSignedMeterValue
from supervisor.config.ocpp import OcppSettings
from supervisor.ocpp import payloads
from supervisor.ocpp.port import Connectors
from supervisor.ocpp.status import SessionView
from supervisor.ocpp.store import Message, Store, Transaction

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 5.0
RECOVERY_WAIT_S = 30.0
_NO_NEWER = 2**62  # events since this: none, only last_event_seq


class Transactions:
    def __init__(
        self,
        store: Store,
        connectors: Connectors,
        settings: OcppSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._connectors = connectors
        self._settings = settings
        self._clock = clock
        self._cursor: dict[int, int] = {}

    # --- taking up -------------------------------------------------------------------------

    def start(self) -> None:
        """From the newest event on; open transactions of the last run reconciled with the connectors,
        once each connector's own recovery reconciled its journal with the board (or after
        RECOVERY_WAIT_S): a session that recovery closed is a transaction ended by PowerLoss."""
        self._wait_for_recovery()
        for index in range(1, self._connectors.count() + 1):
            events = self._connectors.events_since(index, _NO_NEWER)
            self._cursor[index] = int(events["last_event_seq"])
        for transaction in self._store.open_transactions():
            session = self._session(transaction.connector)
            if session is None or session.uuid != transaction.tx:
                log.warning("transaction of session %s ended while the station was down", transaction.tx)
                self._stop_now(transaction, "PowerLoss")
        for index in self._cursor:
            session = self._session(index)
            if session is not None and session.authorized and not session.cancelled:
                self._start(index, session)

    def _wait_for_recovery(self) -> None:
        deadline = time.monotonic() + RECOVERY_WAIT_S
        pause = threading.Event()
        indexes = range(1, self._connectors.count() + 1)
        while any(self._connectors.view(index).recovering for index in indexes):
            if time.monotonic() > deadline:
                log.warning("connectors still recovering after %g s: taking up transactions", RECOVERY_WAIT_S)
                return
            pause.wait(0.05)

    # --- events ----------------------------------------------------------------------------

    def poll(self) -> bool:
        """Handle every connector's new session events; True when something was queued."""
        queued = False
        for index in range(1, self._connectors.count() + 1):
            try:
                queued = self._poll_one(index) or queued
            except Exception as exc:  # noqa: BLE001 - one connector's trouble is not the bridge's
                log.debug("evse %d: no events: %r", index, exc)
        return queued

    def _poll_one(self, index: int) -> bool:
        since = self._cursor.get(index)
        if since is None:  # not taken up yet: from its newest event on
            self._cursor[index] = int(self._connectors.events_since(index, _NO_NEWER)["last_event_seq"])
            return False
        queued = False
        for entry in self._connectors.events_since(index, since)["events"]:
            queued = self._on_event(index, entry["value"]) or queued
            self._cursor[index] = int(entry["event_seq"])
        return queued

    def _on_event(self, index: int, event: dict[str, Any]) -> bool:
        name = event.get("event")
        if name == "ChargingStarted":
            session = self._session(index)
            if session is None or session.uuid != event["uuid"]:
                log.warning("evse %d: session %s ended before its transaction started", index, event["uuid"])
                return False
            return self._start(index, session)
        if name == "SessionCancelled":
            details = event["session_cancelled"]
            return self._stop(event["uuid"], str(details.get("reason", "Other")), details)
        if name == "SessionFinished":
            return self._stop(event["uuid"], "EVDisconnected", event["session_finished"])
        return False

    def _start(self, index: int, session: SessionView) -> bool:
        begin = self._signed(index, "begin")
        energy_wh = payloads.ocmf_energy_wh(begin) if begin else None
        if energy_wh is None:
            energy_wh = self._energy_now(index)
        id_tag = session.token or self._settings.free_id_tag
        now = self._clock()
        transaction = Transaction(session.uuid, index, id_tag, round(energy_wh), begin)
        start = payloads.start_transaction(index, id_tag, round(energy_wh), now, session.reservation_id)
        messages: list[Message] = [("StartTransaction", start)]
        if begin:
            signed = [payloads.signed_value(begin, "Transaction.Begin")]
            messages.append(("MeterValues", payloads.meter_values(index, now, signed)))
        return self._store.open_transaction(transaction, messages)

    def _stop(self, tx: str, reason: str, details: dict[str, Any]) -> bool:
        transaction = self._store.transaction(tx)
        if transaction is None or transaction.stopped:
            return False
        end = details.get("signed_meter_value")
        energy_wh = float(details.get("energy_Wh_import", transaction.meter_start_wh))
        moment = float(details.get("timestamp", self._clock()))
        return self._queue_stop(transaction, reason, energy_wh, moment, end)

    def _stop_now(self, transaction: Transaction, reason: str) -> None:
        end = self._signed(transaction.connector, "now")
        energy_wh = payloads.ocmf_energy_wh(end) if end else None
        if energy_wh is None:
            energy_wh = self._energy_now(transaction.connector, transaction.meter_start_wh)
        self._queue_stop(transaction, reason, energy_wh, self._clock(), end)

    def _queue_stop(
        self, transaction: Transaction, reason: str, energy_wh: float, unix_s: float, end: str | None
    ) -> bool:
        signed = []
        if transaction.begin_signed:
            signed.append(payloads.signed_value(transaction.begin_signed, "Transaction.Begin"))
        messages: list[Message] = []
        if end:
            signed.append(payloads.signed_value(end, "Transaction.End"))
            end_value = [payloads.signed_value(end, "Transaction.End")]
            messages.append(("MeterValues", payloads.meter_values(transaction.connector, unix_s, end_value)))
        meter_stop_wh = max(round(energy_wh), transaction.meter_start_wh)
        stop = payloads.stop_transaction(meter_stop_wh, unix_s, reason, transaction.id_tag, signed)
        messages.append(("StopTransaction", stop))
        return self._store.stop_transaction(transaction.tx, messages)

    # --- sampling and deauthorization --------------------------------------------------------

    def sample(self, measurands: tuple[str, ...] = payloads.MEASURANDS) -> bool:
        """MeterValues (of `measurands`: MeterValuesSampledData) of every open transaction whose
        session is still on its connector."""
        queued = False
        for transaction in self._store.open_transactions():
            session = self._session(transaction.connector)
            reading = self._connectors.powermeter(transaction.connector)
            if session is None or session.uuid != transaction.tx or reading is None:
                continue
            values = [v for v in payloads.sampled_values(reading) if v["measurand"] in measurands]
            message = payloads.meter_values(transaction.connector, self._clock(), values)
            self._store.enqueue(transaction.tx, "MeterValues", message)
            queued = True
        return queued

    def deauthorize(self, tx: str) -> None:
        """The central system refused the transaction's idTag: cancel its session if it is still on."""
        transaction = self._store.transaction(tx)
        if transaction is None or transaction.stopped:
            return
        session = self._session(transaction.connector)
        if session is not None and session.uuid == tx and not session.cancelled:
            self._connectors.ask(transaction.connector, CancelCharging("DeAuthorized"), CALL_TIMEOUT_S)

    # --- reads -------------------------------------------------------------------------------

    def _session(self, index: int) -> SessionView | None:
        return self._connectors.view(index).session

    def _signed(self, index: int, reading: str) -> str | None:
        try:
            signed = self._connectors.ask(index, GetSignedMeterValue(reading), CALL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a transaction without a signature beats none
            log.warning("evse %d: no signed meter value: %r", index, exc)
            return None
        return str(signed) if signed else None

    def _energy_now(self, index: int, default: float = 0.0) -> float:
        reading = self._connectors.powermeter(index)
        return float(reading["energy_Wh_import"]["total"]) if reading is not None else default
