"""The load during chaos: counted requests, simulated cars cycling sessions, command clients."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from supervisor.client import ApiError, Client, rfc3339


class Tally:
    """Requests sent and each one's single outcome: ok, an error code, or unanswered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = 0
        self.outcomes: Counter[str] = Counter()
        self.resends = 0
        self.strays: list[str] = []  # replies whose id was not the one awaited
        self.errors: Counter[str] = Counter()  # "cmd code: message" of the error answers

    def sending(self) -> None:
        with self._lock:
            self.sent += 1

    def record(self, outcome: str, error: str | None = None) -> None:
        with self._lock:
            self.outcomes[outcome] += 1
            if error is not None:
                self.errors[error] += 1

    def resend(self) -> None:
        with self._lock:
            self.resends += 1

    def stray(self, reply: Any, awaited: int) -> None:
        with self._lock:
            self.strays.append(f"a reply to id {reply.get('id') if isinstance(reply, dict) else reply!r} "
                               f"while awaiting {awaited}")  # fmt: skip

    def merge(self, other: Tally) -> None:
        with self._lock:
            self.sent += other.sent
            self.outcomes.update(other.outcomes)
            self.resends += other.resends
            self.strays.extend(other.strays)
            self.errors.update(other.errors)

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "outcomes": dict(self.outcomes), "resends": self.resends,
                "strays": len(self.strays), "errors": dict(self.errors.most_common(20))}  # fmt: skip


class CountingClient(Client):
    """A Client that counts its resends and every reply carrying an id it did not wait for."""

    def __init__(self, endpoint: str, tally: Tally, client_id: str, timeout_s: float = 5.0) -> None:
        super().__init__(endpoint, None, timeout_s=timeout_s, retries=3, client_id=client_id)
        self.tally = tally

    def _send_and_wait(self, payload: bytes, request_id: int) -> dict[str, Any] | None:
        sock = self._dealer()
        sock.send_multipart([b"", payload])
        wait_ms = int((self.timeout_s + min(0.5, max(0.05, self.timeout_s / 4))) * 1000)
        while sock.poll(wait_ms, zmq.POLLIN):
            reply = msgpack.unpackb(sock.recv_multipart()[-1], raw=False)
            if isinstance(reply, dict) and reply.get("id") == request_id:
                return reply
            self.tally.stray(reply, request_id)
        self.tally.resend()
        self.close()
        return None

    def attempt(self, cmd: str, evse: int | None = None, **args: Any) -> tuple[str, Any]:
        """One counted request: ("ok", result), (error code, None) or ("unanswered", None)."""
        self.tally.sending()
        try:
            result = self.call(cmd, evse, **args)
        except ApiError as exc:
            self.tally.record(exc.code, f"{cmd} {exc.code}: {exc.message[:100]}")
            return exc.code, None
        except TimeoutError:
            self.tally.record("unanswered")
            return "unanswered", None
        self.tally.record("ok")
        return "ok", result


def token(evse: int) -> str:
    return f"CHAOS-CARD-{evse}"


class SessionDriver(threading.Thread):
    """A simulated car on one connector: plug in, authorize, charge a while, unplug, again."""

    def __init__(self, client: CountingClient, evse: int, hold_s: tuple[float, float], seed: int) -> None:
        super().__init__(name=f"chaos-car-{evse}", daemon=True)
        self.client = client
        self.evse = evse
        self.hold_s = hold_s
        self.rng = random.Random(seed)
        self.halt = threading.Event()
        self.plugged = 0
        self.unplugged = 0
        self.authorize_failed = 0

    def run(self) -> None:
        while not self.halt.is_set():
            if self._until_ok("sim_plug_in", capacity_wh=40_000, soc=0.2, target_soc=0.9) is not True:
                self.halt.wait(0.5)  # still plugged from an earlier cycle: unplug below
            else:
                self.plugged += 1
                if self._until_ok("authorize", auth_token=token(self.evse)) is not True:
                    self.authorize_failed += 1
                self.halt.wait(self.rng.uniform(*self.hold_s))
            if self._until_ok("sim_unplug") is True:
                self.unplugged += 1
            self.halt.wait(0.3)

    def _until_ok(self, cmd: str, **args: Any) -> Any:
        """The result of the first ok answer (a few tries: errors are expected under chaos)."""
        for _ in range(20):
            outcome, result = self.client.attempt(cmd, self.evse, **args)
            if outcome == "ok":
                return result
            threading.Event().wait(0.05)
        return None


class CommandClient(threading.Thread):
    """Random valid connector commands in a loop, each request counted by its outcome."""

    def __init__(self, client: CountingClient, evses: int, seed: int, pause_s: float) -> None:
        super().__init__(name=f"chaos-client-{client.client_id}", daemon=True)
        self.client = client
        self.evses = evses
        self.rng = random.Random(seed)
        self.pause_s = pause_s
        self.halt = threading.Event()
        self.commands: Counter[str] = Counter()
        self._reservation_ids = iter(range(seed * 1_000_000, seed * 1_000_000 + 999_999))
        ops: list[Callable[[int], None]] = [self._limit, self._events, self._pause_resume, self._signed,
                                            self._reserve_cancel]  # fmt: skip
        self.ops = ops

    def run(self) -> None:
        while not self.halt.is_set():
            evse = self.rng.randint(1, self.evses)
            self.rng.choice(self.ops)(evse)
            if self.pause_s > 0:
                self.halt.wait(self.pause_s)

    def _send(self, cmd: str, evse: int, **args: Any) -> tuple[str, Any]:
        self.commands[cmd] += 1
        return self.client.attempt(cmd, evse, **args)

    def _limit(self, evse: int) -> None:
        self._send("set_local_max_current", evse, max_current=float(self.rng.choice((6, 10, 16, 20, 32))))

    def _events(self, evse: int) -> None:
        outcome, result = self._send("get_events", evse, since=10**9)
        if outcome == "ok":
            self._send("get_events", evse, since=max(0, int(result["last_event_seq"]) - 10))

    def _pause_resume(self, evse: int) -> None:
        self._send("pause_charging", evse)
        self._send("resume_charging", evse)

    def _signed(self, evse: int) -> None:
        self._send("get_signed_meter_value", evse)

    def _reserve_cancel(self, evse: int) -> None:
        expiry = rfc3339(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
        reservation_id = next(self._reservation_ids)
        self._send("reserve_now", evse, reservation_id=reservation_id, auth_token=token(evse),
                   expiry_date=expiry)  # fmt: skip
        self._send("cancel_reservation", evse)


class EventCollector(threading.Thread):
    """Pages every connector's event log with `since` so that none of it is lost to its size."""

    def __init__(self, client: CountingClient, evses: int, interval_s: float = 2.0) -> None:
        super().__init__(name="chaos-events", daemon=True)
        self.client = client
        self.evses = evses
        self.interval_s = interval_s
        self.halt = threading.Event()
        self.events: dict[int, list[dict[str, Any]]] = {evse: [] for evse in range(1, evses + 1)}
        self.problems: list[str] = []

    def run(self) -> None:
        while not self.halt.wait(self.interval_s):
            self.collect()

    def collect(self) -> None:
        for evse in self.events:
            self._page(evse)

    def _page(self, evse: int) -> None:
        logged = self.events[evse]
        since = logged[-1]["event_seq"] if logged else 0
        outcome, result = self.client.attempt("get_events", evse, since=since)
        if outcome != "ok":
            return
        fresh = result["events"]
        if fresh and fresh[0]["event_seq"] != since + 1:
            self.problems.append(
                f"evse {evse}: events {since + 1}..{fresh[0]['event_seq'] - 1} not in the log"
            )
        logged.extend(fresh)
