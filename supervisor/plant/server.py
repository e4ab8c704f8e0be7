"""The plant's sockets: the drivers' endpoint and the public one, served by one thread.

Each turn takes every request waiting on both sockets, runs them on the hardware, reads
the reports due (`reports`: a connector's status or reading every interval, one message a
link), writes the meter registers the replies and reports carry (one commit), then sends
the replies and the reports and pushes the changes to the links attached to the changed
connectors. A turn ends when a request
comes or the next report is due, at the latest after `TURN_S`; at most once a `TURN_S` it
switches off the boards whose keep-alive ran out, and it exits when nobody (station or client) has
talked to it for `linger_s`, or on `plant_stop`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import zmq

from drivers.base import DriverError
from drivers.clock import Clock
from drivers.sim import plant_wire as wire
from supervisor.api.commands import check_args, lookup
from supervisor.api.protocol import (
    BadArgs,
    BadRequest,
    InvalidRequest,
    Request,
    UnknownCommand,
    UnknownEvse,
    decode_request,
    encode_error,
    encode_exception,
    encode_ok,
    show,
)
from supervisor.plant.plant import Detached, Plant
from supervisor.plant.registers import RegistersError
from supervisor.plant.reports import ReportSchedule

log = logging.getLogger(__name__)

TURN_S = 0.05  # the longest wait for a request; keep-alives and linger are looked at between turns
REPORT_STEP_S = 0.005  # reports due this close together go in one message: a few at a time, not a
# turn's worth (a link that hands a hundred reports to a hundred actors at once makes every other
# thread of its station queue behind them for the GIL)
MAX_MESSAGE_BYTES = 65536
PUBLIC_COMMANDS = (
    "ping",
    "plant_stop",
    "sim_plug_in",
    "sim_unplug",
    "sim_ev_pause",
    "sim_ev_resume",
    "sim_fault",
    "sim_clear_fault",
)


@dataclass
class _Reply:
    socket: zmq.Socket[bytes]
    envelope: list[bytes]
    message: Any  # a map for a driver, encoded bytes for the public endpoint
    reports_energy: bool = False


class PlantServer:
    def __init__(
        self,
        plant: Plant,
        clock: Clock,
        *,
        drivers_endpoint: str,
        public_endpoint: str,
        linger_s: float,
        started_by_station: bool,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        self.plant = plant
        self._clock = clock
        self._linger_s = linger_s
        self.started_by_station = started_by_station
        self._context = context or zmq.Context.instance()
        self._started_s = clock.monotonic()
        self._last_talk_s = self._started_s
        self._stop = False
        self._changed: set[str] = set()
        self._schedule = ReportSchedule()
        self.drivers = self._bind(zmq.ROUTER, drivers_endpoint)
        try:
            self.public = self._bind(zmq.ROUTER, public_endpoint)
        except zmq.ZMQError:
            self.drivers.close()
            raise
        self.drivers_endpoint = drivers_endpoint
        self.public_endpoint = self.public.getsockopt_string(zmq.LAST_ENDPOINT)

    def _bind(self, kind: int, endpoint: str) -> zmq.Socket[bytes]:
        socket: zmq.Socket[bytes] = self._context.socket(kind)
        socket.linger = 0
        socket.setsockopt(zmq.MAXMSGSIZE, 16 * MAX_MESSAGE_BYTES)
        try:
            socket.bind(endpoint)
        except zmq.ZMQError:
            socket.close()
            raise
        return socket

    def stop(self) -> None:
        """End the loop at its next turn (a signal handler may call it)."""
        self._stop = True

    def changed(self, evse_id: str) -> None:
        """The hardware's watcher: the connector's links hear of it at the end of the turn."""
        self._changed.add(evse_id)

    # --- the loop ----------------------------------------------------------------------------

    def serve(self) -> str:
        """Serve until `plant_stop` or the linger time; the reason it stopped."""
        poller = zmq.Poller()
        poller.register(self.drivers, zmq.POLLIN)
        poller.register(self.public, zmq.POLLIN)
        try:
            next_expiry_s = 0.0
            while not self._stop:
                ready = dict(poller.poll(self._wait_ms()))
                replies = self._take(self.drivers, self._driver_request) if self.drivers in ready else []
                if self.public in ready:
                    replies += self._take(self.public, self._public_request)
                if (now_s := self._clock.monotonic()) >= next_expiry_s:
                    self.plant.expire_keepalives()
                    next_expiry_s = now_s + TURN_S
                self._send(replies, self._reports())
                if self._clock.monotonic() - self._last_talk_s >= self._linger_s:
                    return f"nobody talked to the plant for {self._linger_s:g} s"
            return "plant_stop"
        finally:
            self.drivers.close()
            self.public.close()

    def _wait_ms(self) -> int:
        """Until the next report is due (those due within `REPORT_STEP_S` go together), at most a turn."""
        due_s = self._schedule.next_due_s()
        wait_s = TURN_S if due_s is None else min(TURN_S, max(REPORT_STEP_S, due_s - self._clock.monotonic()))
        return max(1, round(wait_s * 1000))

    def _take(self, socket: zmq.Socket[bytes], handle: Any) -> list[_Reply]:
        replies: list[_Reply] = []
        while wire.readable(socket):
            frames = socket.recv_multipart()
            self._last_talk_s = self._clock.monotonic()
            reply = handle(socket, frames)
            if reply is not None:
                replies.append(reply)
        return replies

    def _reports(self) -> dict[bytes, list[list[Any]]]:
        """The reports due this turn, by link: [evse_id, kind, value, error] each."""
        by_peer: dict[bytes, list[list[Any]]] = {}
        for peer, evse_id, kind in self._schedule.due(self._clock.monotonic()):
            connector = self.plant.connectors.get(evse_id)
            if connector is None:
                continue
            try:
                entry = [evse_id, kind, self.plant.report(connector, kind), None]
            except DriverError as exc:
                entry = [evse_id, kind, None, str(exc)]
            by_peer.setdefault(peer, []).append(entry)
        return by_peer

    def _send(self, replies: list[_Reply], reports: dict[bytes, list[list[Any]]]) -> None:
        """The registers on disk, then the replies and the reports, then the changes pushed to the links."""
        try:
            self.plant.commit()
        except RegistersError as exc:
            log.error("%s", exc)
            replies = [_unreported(reply, str(exc)) for reply in replies]
            reports = {}  # readings not on disk are not reported; the links' drivers ask again
        for reply in replies:
            frame = reply.message if isinstance(reply.message, bytes) else wire.pack(reply.message)
            _send_now(reply.socket, [*reply.envelope, frame])
        for peer, entries in reports.items():
            _send_now(self.drivers, [peer, wire.pack({"reports": entries})])
        for evse_id in sorted(self._changed):
            connector = self.plant.connectors.get(evse_id)
            for peer in () if connector is None else sorted(connector.watchers):
                _send_now(self.drivers, [peer, wire.pack({"changed": evse_id})])
        self._changed.clear()

    # --- the drivers' endpoint ---------------------------------------------------------------

    def _driver_request(self, socket: zmq.Socket[bytes], frames: list[bytes]) -> _Reply | None:
        peer, payload = frames[0], frames[-1]
        try:
            message = wire.unpack(payload)
        except ValueError:
            return _Reply(socket, [peer], _error(None, wire.BAD_REQUEST, "not MessagePack"))
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            return _Reply(socket, [peer], _error(None, wire.BAD_REQUEST, "a request is a map with an op"))
        request_id, op, evse = message.get("id"), message["op"], message.get("evse")
        given = message.get("args")
        args: dict[str, Any] = given if isinstance(given, dict) else {}
        if op == "keepalive":
            self.plant.keepalive([e for e in args.get("evse_ids", ()) if isinstance(e, str)])
            self._schedule.heard(peer, self._clock.monotonic())
            return None
        if op == "watch":  # from the link's own socket: push this connector's changes there
            if isinstance(evse, str) and evse in self.plant.connectors:
                self.plant.connectors[evse].watchers.add(peer)
            return None
        if op == "report":  # from the link's own socket: send this connector's reports there
            self._subscribe(peer, evse, args)
            return None
        until = message.get("until")
        if isinstance(until, (int, float)) and until < time.time():
            return None  # the caller gave up waiting: a late power-on must not happen
        return _Reply(socket, [peer], self._run_driver_op(request_id, op, evse, args), op in _ENERGY_OPS)

    def _subscribe(self, peer: bytes, evse: Any, args: dict[str, Any]) -> None:
        if not isinstance(evse, str) or evse not in self.plant.connectors:
            return  # the link attaches the connector and subscribes again when a call finds it unknown
        try:
            self._schedule.subscribe(
                peer, evse, str(args.get("kind")), float(args["interval_s"]), self._clock.monotonic()
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("a link's report subscription for %s was refused: %s", evse, exc)

    def _run_driver_op(self, request_id: Any, op: str, evse: Any, args: dict[str, Any]) -> dict[str, Any]:
        try:
            if op == "hello":
                return _ok(request_id, os.getpid())
            if op == "attach":
                return _ok(request_id, self._attach(evse, args))
            if not isinstance(evse, str):
                raise Detached(f"no connector {evse!r}")
            return _ok(request_id, self.plant.driver_op(self.plant.find(evse), op, args))
        except Detached as exc:
            return _error(request_id, wire.DETACHED, str(exc))
        except DriverError as exc:
            return _error(request_id, wire.DRIVER_ERROR, str(exc))
        except (ValueError, KeyError, TypeError) as exc:
            return _error(request_id, wire.VALUE_ERROR, f"{op}: {exc}")

    def _attach(self, evse: Any, args: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(evse, str):
            raise ValueError("attach needs the connector's evse_id")
        self.plant.attach(
            evse,
            int(args["index"]),
            wire.capabilities_from_wire(args["capabilities"]),
            str(args["meter_id"]),
            float(args["time_scale"]),
        )
        return {"pid": os.getpid()}

    # --- the public endpoint -----------------------------------------------------------------

    def _public_request(self, socket: zmq.Socket[bytes], frames: list[bytes]) -> _Reply:
        envelope, payload = frames[:-1], frames[-1]
        try:
            request = decode_request(payload, MAX_MESSAGE_BYTES)
        except InvalidRequest as exc:
            return _Reply(socket, envelope, encode_error(exc.request_id, "bad_request", str(exc.error)))
        try:
            result = self._run_public(request)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reply
            return _Reply(socket, envelope, encode_exception(request.id, exc, what=f"running {request.cmd}"))
        return _Reply(socket, envelope, encode_ok(request.id, result))

    def _run_public(self, request: Request) -> Any:
        if request.cmd not in PUBLIC_COMMANDS:
            raise UnknownCommand(
                f"no command {show(request.cmd)} on the plant; known commands: {', '.join(PUBLIC_COMMANDS)}"
            )
        if request.cmd == "ping":
            return self.describe()
        if request.cmd == "plant_stop":
            self._stop = True
            return True
        command = lookup(request.cmd)
        args = check_args(command, request.args)
        if request.evse is None:
            raise BadRequest(f"{request.cmd} needs evse: a connector's index (from 1) or its evse_id")
        try:
            connector = self.plant.find(request.evse)
        except Detached:
            known = (
                ", ".join(f"{c.index} ({c.evse_id})" for c in self.plant.connectors.values()) or "none yet"
            )
            raise UnknownEvse(f"the plant has no connector {show(request.evse)}; it has {known}") from None
        try:
            return self.plant.control(connector, command.name.removeprefix("sim_"), args)
        except ValueError as exc:
            raise BadArgs(f"{command.name}: {exc}") from None

    def describe(self) -> dict[str, Any]:
        return {
            "plant": True,
            "pid": os.getpid(),
            "uptime_s": round(self._clock.monotonic() - self._started_s, 3),
            "started_by_station": self.started_by_station,
            "endpoint": self.public_endpoint,
            "connectors": [
                {"index": c.index, "evse_id": c.evse_id, "plugged": c.sim.hardware.snapshot().plugged}
                for c in sorted(self.plant.connectors.values(), key=lambda c: c.index)
            ],
        }


_ENERGY_OPS = frozenset({"reading", "signed_reading", "control"})


def _send_now(socket: zmq.Socket[bytes], frames: list[bytes]) -> None:
    with contextlib.suppress(zmq.ZMQError):  # the peer is gone or not reading: its wait runs out
        socket.send_multipart(frames, zmq.NOBLOCK)


def _ok(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def _error(request_id: Any, kind: str, message: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "kind": kind, "message": message}


def _unreported(reply: _Reply, why: str) -> _Reply:
    """A reply that would report energy not yet on disk becomes the meter's failure."""
    if not reply.reports_energy:
        return reply
    if isinstance(reply.message, bytes):
        return _Reply(reply.socket, reply.envelope, encode_error(None, "internal", why))
    return _Reply(reply.socket, reply.envelope, _error(reply.message.get("id"), wire.DRIVER_ERROR, why))
