"""The sim drivers of a station whose simulated hardware runs in the plant process.

    link = PlantLink(drivers_endpoint(state_dir), call_timeout_s=0.5)
    board = RemoteBoard(link, evse_id); meter = RemoteMeter(link, evse_id)
    link.attach(evse_id, index=1, capabilities=caps, meter_id="SIM-1", time_scale=1.0)

A call takes a DEALER socket of a small pool, sends and waits on it for its reply at most
`call_timeout_s` (below the supervision's ping timeout), then gives the socket back: any
thread may call, none waits for long, and no call goes through another thread. The
link's own thread, on a socket of its own, sends the keep-alive of every attached
connector four times a second, asks the plant to push each watched connector's changes
and its subscribed reports (a board's status, a meter's reading every interval) there,
and calls the watchers and the reports' handlers when it does. A plant that restarted does not know
the connector any more: the link attaches it again and repeats the call once.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq

from drivers.base import (
    Board,
    BoardCapabilities,
    BoardStatus,
    DriverError,
    Meter,
    MeterReading,
    PilotSignal,
    ReadingContext,
    Telemetry,
)
from drivers.sim import plant_wire as wire

log = logging.getLogger(__name__)

KEEPALIVE_EVERY_S = wire.KEEPALIVE_S / 4
TELEMETRY_FRESH_S = 0.1  # telemetry that came with a status this recently is not asked for again
POOL_SIZE = 16  # sockets for calls: as many calls in flight at once, each without a thread hop

ReportHandler = Callable[[Any, str | None], None]  # (a report's value, or its device's error)


class PlantLink:
    """A station's connection to its plant (thread-safe)."""

    def __init__(self, endpoint: str, call_timeout_s: float, context: zmq.Context[Any] | None = None) -> None:
        self.endpoint = endpoint
        self._timeout_s = call_timeout_s
        self._context = context or zmq.Context.instance()
        self._ids = itertools.count(1)
        self.calls = 0  # requests made (not the link's keep-alive, watches and subscriptions)
        self._pool: queue.LifoQueue[zmq.Socket[bytes]] = queue.LifoQueue()
        self._sockets: list[zmq.Socket[bytes]] = []
        self._outgoing: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._attached: dict[str, dict[str, Any]] = {}  # evse_id -> the attach arguments
        self._watchers: dict[str, Callable[[], None]] = {}
        self._reports: dict[tuple[str, str], tuple[float, ReportHandler]] = {}  # (evse_id, kind)
        self._lock = threading.Lock()
        self._closed = False
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="plant-link", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout_s: float) -> int:
        """Wait for the plant to answer (a new connection takes a moment); its pid, or DriverError."""
        deadline_s = time.monotonic() + timeout_s
        while True:
            try:
                return int(self._request(None, "hello", {}, min(0.1, timeout_s)))
            except DriverError:
                if time.monotonic() >= deadline_s:
                    raise

    # --- what the drivers call ---------------------------------------------------------------

    def attach(
        self, evse_id: str, *, index: int, capabilities: BoardCapabilities, meter_id: str, time_scale: float
    ) -> None:
        """Tell the plant about the connector (it creates its hardware once); kept for re-attaching."""
        args = {
            "index": index,
            "capabilities": wire.capabilities_to_wire(capabilities),
            "meter_id": meter_id,
            "time_scale": time_scale,
        }
        with self._lock:
            self._attached[evse_id] = args
        self._request(evse_id, "attach", args)
        self._ask_for_changes(evse_id)

    def watch(self, evse_id: str, notify: Callable[[], None]) -> None:
        """Call `notify` on the link's thread whenever the plant pushes a change of the connector."""
        with self._lock:
            self._watchers[evse_id] = notify
        self._ask_for_changes(evse_id)

    def subscribe(self, evse_id: str, kind: str, interval_s: float, handle: ReportHandler) -> None:
        """Have the plant send the connector's `kind` report ("board", "meter") every `interval_s`;
        `handle(value, error)` runs on the link's thread as each arrives."""
        with self._lock:
            self._reports[(evse_id, kind)] = (interval_s, handle)
        self._ask_for_changes(evse_id)

    def call(self, evse_id: str, op: str, **args: Any) -> Any:
        """One operation on the connector's hardware: its result; DriverError when the plant does
        not answer in time or the device is away, ValueError for an impossible value."""
        try:
            return self._request(evse_id, op, args)
        except _Detached:
            with self._lock:
                attach_args = self._attached.get(evse_id)
            if attach_args is None:
                raise DriverError(f"the plant does not know connector {evse_id}") from None
            self._request(evse_id, "attach", attach_args)
            self._ask_for_changes(evse_id)
            return self._request(evse_id, op, args)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._outgoing.put(None)
        self._wake()
        self._thread.join(timeout=2.0)
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)
        with self._lock:
            for socket in self._sockets:
                socket.close()
            self._sockets.clear()

    # --- calls: a socket of the pool, used by the calling thread alone -----------------------

    def _request(
        self, evse_id: str | None, op: str, args: dict[str, Any], timeout_s: float | None = None
    ) -> Any:
        timeout_s = self._timeout_s if timeout_s is None else timeout_s
        request_id = next(self._ids)
        self.calls += 1
        deadline_s = time.monotonic() + timeout_s
        frame = wire.pack(
            {"id": request_id, "op": op, "evse": evse_id, "args": args, "until": time.time() + timeout_s}
        )
        socket = self._take_socket(timeout_s)
        try:
            reply = self._exchange(socket, frame, request_id, deadline_s)
        finally:
            self._pool.put(socket)
        if reply is None:
            raise DriverError(f"the plant ({self.endpoint}) did not answer {op} within {timeout_s:g} s")
        return _result(reply)

    def _take_socket(self, timeout_s: float) -> zmq.Socket[bytes]:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._closed:
                raise DriverError("the link to the plant is closed")
            if len(self._sockets) < POOL_SIZE:
                socket = self._socket()
                self._sockets.append(socket)
                return socket
        try:
            return self._pool.get(timeout=timeout_s)
        except queue.Empty:
            raise DriverError(f"{POOL_SIZE} calls to the plant are waiting already") from None

    def _socket(self) -> zmq.Socket[bytes]:
        """A DEALER to the plant. What it sends before the connection is up waits for it; a
        request the plant gets after its `until` has passed is dropped there, so a late one
        never switches anything."""
        socket: zmq.Socket[bytes] = self._context.socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(self.endpoint)
        return socket

    @staticmethod
    def _exchange(
        socket: zmq.Socket[bytes], frame: bytes, request_id: int, deadline_s: float
    ) -> dict[str, Any] | None:
        """Send and wait for this request's reply (a late reply to an earlier call is dropped)."""
        with contextlib.suppress(zmq.Again):  # the queue to a plant away is full: the wait runs out
            socket.send(frame, zmq.NOBLOCK)
        while (left_s := deadline_s - time.monotonic()) > 0:
            if not socket.poll(max(1, int(left_s * 1000))):
                return None
            try:
                message = wire.unpack(socket.recv())
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("id") == request_id:
                return message
        return None

    # --- the link's thread: keep-alive and the plant's pushes --------------------------------

    def _ask_for_changes(self, evse_id: str) -> None:
        """The plant pushes the connector's changes and reports to the link's thread (its own socket)."""
        with self._lock:
            reports = [
                (kind, every_s) for (evse, kind), (every_s, _) in self._reports.items() if evse == evse_id
            ]
        self._outgoing.put(wire.pack({"id": 0, "op": "watch", "evse": evse_id, "args": {}}))
        for kind, every_s in reports:
            args = {"kind": kind, "interval_s": every_s}
            self._outgoing.put(wire.pack({"id": 0, "op": "report", "evse": evse_id, "args": args}))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # closed: the link is stopping
            os.write(self._wake_write, b"x")

    def _serve(self) -> None:
        socket = self._socket()
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(self._wake_read, zmq.POLLIN)
        next_keepalive_s = 0.0
        try:
            while True:
                now_s = time.monotonic()
                if now_s >= next_keepalive_s:
                    self._send(socket, self._keepalive())
                    next_keepalive_s = now_s + KEEPALIVE_EVERY_S
                ready = dict(poller.poll(max(1, int((next_keepalive_s - now_s) * 1000))))
                if self._wake_read in ready:
                    os.read(self._wake_read, 4096)
                    if not self._send_queued(socket):
                        return
                if socket in ready:
                    self._receive(socket)
        finally:
            socket.close()

    def _send_queued(self, socket: zmq.Socket[bytes]) -> bool:
        """Send what callers queued; False once `close` asked to stop."""
        while True:
            try:
                frame = self._outgoing.get_nowait()
            except queue.Empty:
                return True
            if frame is None:
                return False
            self._send(socket, frame)

    @staticmethod
    def _send(socket: zmq.Socket[bytes], frame: bytes | None) -> None:
        if frame is None:
            return
        with contextlib.suppress(zmq.Again):  # the queue for a plant away is full: asked again later
            socket.send(frame, zmq.NOBLOCK)

    def _keepalive(self) -> bytes | None:
        with self._lock:
            evse_ids = list(self._attached)
        if not evse_ids:
            return None
        return wire.pack({"id": 0, "op": "keepalive", "evse": None, "args": {"evse_ids": evse_ids}})

    def _receive(self, socket: zmq.Socket[bytes]) -> None:
        while wire.readable(socket):
            frame = socket.recv()
            try:
                message = wire.unpack(frame)
            except ValueError:
                log.warning("the plant sent a frame that is not MessagePack (%d bytes)", len(frame))
                continue
            if isinstance(message, dict) and "changed" in message:
                self._changed(message["changed"])
            elif isinstance(message, dict) and isinstance(message.get("reports"), list):
                self._reported(message["reports"])

    def _changed(self, evse_id: Any) -> None:
        with self._lock:
            notify = self._watchers.get(evse_id) if isinstance(evse_id, str) else None
        if notify is not None:
            notify()

    def _reported(self, entries: list[Any]) -> None:
        with self._lock:
            calls = [
                (subscribed[1], entry[2], entry[3])
                for entry in entries
                if isinstance(entry, list)
                and len(entry) == 4
                and (subscribed := self._reports.get((entry[0], entry[1]))) is not None
            ]
        for handle, value, error in calls:
            handle(value, None if error is None else str(error))


class _Detached(Exception):
    """The plant does not know the connector."""


def _result(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    kind, message = reply.get("kind"), str(reply.get("message", "the plant refused the call"))
    if kind == wire.DETACHED:
        raise _Detached(message)
    if kind == wire.VALUE_ERROR:
        raise ValueError(message)
    raise DriverError(message)


class RemoteBoard(Board):
    """The board driver of a connector in the plant."""

    def __init__(self, link: PlantLink, evse_id: str) -> None:
        self._link = link
        self._evse_id = evse_id
        self._telemetry: tuple[float, Telemetry] | None = None  # (when, what) came with a status
        self._lock = threading.Lock()
        self._newest: _BoardReport | None = None  # the newest status the plant sent or a call read

    def _call(self, op: str, **args: Any) -> Any:
        return self._link.call(self._evse_id, op, **args)

    def on_change(self, notify: Callable[[], None]) -> bool:
        self._link.watch(self._evse_id, notify)
        return True

    def on_report(self, interval_s: float, notify: Callable[[], None]) -> bool:
        def handle(value: Any, error: str | None) -> None:
            if error is not None:
                self._keep(_BoardReport(time.monotonic_ns(), None, error))
            elif isinstance(value, dict):
                self._keep(_BoardReport(int(value.get("at_ns", 0)), value, None))
            notify()

        self._link.subscribe(self._evse_id, "board", interval_s, handle)
        return True

    def reported(self) -> tuple[BoardStatus, Telemetry]:
        with self._lock:
            newest = self._newest
        if newest is None:
            return self.status(), self.telemetry()
        if newest.value is None:
            raise DriverError(newest.error or "the board does not answer")
        value = dict(newest.value)
        value.pop("at_ns", None)
        telemetry = wire.telemetry_from_wire(value.pop("telemetry"))
        return wire.status_from_wire(value), telemetry

    def _keep(self, report: _BoardReport) -> None:
        """Newer than what is kept: a report that crossed a call's fresher reply is dropped."""
        with self._lock:
            if self._newest is None or report.at_ns >= self._newest.at_ns:
                self._newest = report

    def capabilities(self) -> BoardCapabilities:
        return wire.capabilities_from_wire(self._call("capabilities"))

    def status(self) -> BoardStatus:
        value = dict(self._call("status"))
        at_ns = value.pop("at_ns", None)
        telemetry = value.pop("telemetry", None)
        if telemetry is not None:
            self._telemetry = (time.monotonic(), wire.telemetry_from_wire(telemetry))
            if isinstance(at_ns, int):
                self._keep(_BoardReport(at_ns, {**value, "telemetry": telemetry}, None))
        return wire.status_from_wire(value)

    def set_pilot(self, signal: PilotSignal) -> None:
        self._call("set_pilot", signal=wire.pilot_to_wire(signal))

    def allow_power(self, allowed: bool) -> None:
        self._call("allow_power", allowed=allowed)

    def set_lock(self, locked: bool) -> bool:
        return bool(self._call("set_lock", locked=locked))

    def switch_phases(self, three_phases: bool) -> None:
        self._call("switch_phases", three_phases=three_phases)

    def telemetry(self) -> Telemetry:
        """The telemetry a status just brought, else one call for it."""
        cached = self._telemetry
        if cached is not None and time.monotonic() - cached[0] < TELEMETRY_FRESH_S:
            return cached[1]
        return wire.telemetry_from_wire(self._call("telemetry"))


@dataclass(frozen=True)
class _BoardReport:
    at_ns: int  # the plant's monotonic clock when it read the board (a report of an error: ours)
    value: dict[str, Any] | None  # the status on the wire, with its telemetry
    error: str | None = None  # the board did not answer


class RemoteMeter(Meter):
    """The meter driver of a connector in the plant (the plant keeps the register and the key)."""

    def __init__(self, link: PlantLink, evse_id: str) -> None:
        self._link = link
        self._evse_id = evse_id
        self._newest: tuple[Any, str | None] | None = None  # the last report: (reading, error)

    def on_report(self, interval_s: float, notify: Callable[[], None]) -> bool:
        def handle(value: Any, error: str | None) -> None:
            self._newest = (value, error)
            notify()

        self._link.subscribe(self._evse_id, "meter", interval_s, handle)
        return True

    def reported(self) -> MeterReading:
        newest = self._newest
        if newest is None:
            return self.reading()
        value, error = newest
        if error is not None or not isinstance(value, dict):
            raise DriverError(error or "the meter sent no reading")
        return wire.reading_from_wire(value)

    def reading(self) -> MeterReading:
        return wire.reading_from_wire(self._link.call(self._evse_id, "reading"))

    def signed_reading(self, token: str | None, context: ReadingContext) -> str:
        return str(self._link.call(self._evse_id, "signed_reading", token=token, context=context))

    def public_key_pem(self) -> str | None:
        key = self._link.call(self._evse_id, "public_key_pem")
        return None if key is None else str(key)


class RemoteControls:
    """The `sim_*` controls of a connector in the plant: the same calls as `SimControls`."""

    def __init__(self, link: PlantLink, evse_id: str) -> None:
        self._link = link
        self._evse_id = evse_id

    def _control(self, name: str, **args: Any) -> Any:
        return self._link.call(self._evse_id, "control", name=name, args=args)

    def plug_in(self, **car: Any) -> bool:
        return bool(self._control("plug_in", **car))

    def unplug(self) -> bool:
        return bool(self._control("unplug"))

    def ev_pause(self) -> bool:
        return bool(self._control("ev_pause"))

    def ev_resume(self) -> bool:
        return bool(self._control("ev_resume"))

    def fault(self, kind: str) -> bool:
        return bool(self._control("fault", kind=kind))

    def clear_fault(self, kind: str | None = None) -> bool:
        return bool(self._control("clear_fault", kind=kind))

    def state(self) -> dict[str, Any]:
        value: dict[str, Any] = self._control("state")
        return value
