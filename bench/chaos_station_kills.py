"""Station kills: SIGKILL of the whole station at random moments during sessions, restarted each time.

    .venv/bin/python bench/chaos.py --station-kills 20 [--connectors 8] [--seed N] [--json FILE]

The plant (the simulated hardware) outlives each kill, as hardware does. Cars plug in,
authorize and unplug on every connector but the last; on the last one a client sends keyed
`reserve_now` / `cancel_reservation` requests and, after every restart, sends the newest of
them again with the same (client, id). At the end, on one last start, every connector's
event log is checked: `event_seq` 1..n with none missing or doubled, every session started
is finished or still open (0 lost), no reservation started twice (0 double executions),
every repeated request answered as the first time, the meter never backwards. Printed: the
time from a station start to every connector answering (median, p99, max).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import zmq
from chaos_station import Limits, StationProcess, config_text

from supervisor.plant.launch import call

TOKEN = "CHAOS-CARD"
CLIENT = "station-kills"


@dataclass
class Tally:
    starts_to_answer_s: list[float] = field(default_factory=list)
    keyed: dict[int, Any] = field(default_factory=dict)  # request id -> the first reply's result
    repeats_differing: list[str] = field(default_factory=list)
    energy_seen: dict[int, float] = field(default_factory=dict)
    energy_backwards: list[str] = field(default_factory=list)
    unanswered: int = 0
    sessions: int = 0


class Link:
    """Requests to one station process over a DEALER (with a client id when keyed)."""

    def __init__(self, endpoint: str) -> None:
        socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(endpoint)
        self.socket = socket
        self._ids = itertools.count(1_000_000)

    def request(self, cmd: str, evse: int | None = None, timeout_s: float = 2.0, **fields: Any) -> Any:
        request: dict[str, Any] = {
            "v": 1,
            "id": fields.pop("id", None) or next(self._ids),
            "cmd": cmd,
            **fields,
        }
        if evse is not None:
            request["evse"] = evse
        self.socket.send(msgpack.packb(request))
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0 and self.socket.poll(int(left * 1000) + 1):
            reply = msgpack.unpackb(self.socket.recv(), raw=False)
            if reply.get("id") == request["id"]:
                return reply
        return None

    def close(self) -> None:
        self.socket.close()


def _in_an_hour() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def _wait_all_answer(link: Link, connectors: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    for evse in range(1, connectors + 1):
        while (
            reply := link.request("get_events", evse, args={"since": 10**9}, timeout_s=1.0)
        ) is None or not reply.get("ok"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"evse {evse} did not answer within {timeout_s} s")


def _play(
    link: Link, plant: str, connectors: int, rng: random.Random, tally: Tally, stop: threading.Event
) -> None:
    """Cars on every connector but the last; keyed reservation requests on the last."""
    keyed_id = max(tally.keyed, default=0)
    while not stop.is_set():
        evse = rng.randint(1, connectors - 1)
        action = rng.choice(("plug", "unplug", "authorize"))
        if action == "plug":
            call(plant, "sim_plug_in", 2.0, evse=evse)
        elif action == "unplug":
            call(plant, "sim_unplug", 2.0, evse=evse)
        else:
            link.request("authorize", evse, args={"auth_token": TOKEN})
        keyed_id += 1
        cmd = "reserve_now" if keyed_id % 2 else "cancel_reservation"
        args = (
            {"reservation_id": keyed_id, "auth_token": TOKEN, "expiry_date": _in_an_hour()}
            if cmd == "reserve_now"
            else {}
        )
        reply = link.request(cmd, connectors, id=keyed_id, client=CLIENT, args=args)
        if reply is None:
            tally.unanswered += 1
        else:
            tally.keyed[keyed_id] = (cmd, args, reply.get("result"), reply.get("ok"))
        stop.wait(rng.uniform(0.02, 0.1))


def _repeat_newest(link: Link, connectors: int, tally: Tally, count: int = 4) -> None:
    """The newest keyed requests again, same (client, id): the first reply, and nothing run."""
    for keyed_id in sorted(tally.keyed)[-count:]:
        cmd, args, result, ok = tally.keyed[keyed_id]
        reply = link.request(cmd, connectors, id=keyed_id, client=CLIENT, args=args)
        if reply is None or (reply.get("ok"), reply.get("result")) != (ok, result):
            tally.repeats_differing.append(f"id {keyed_id}: first {ok}/{result}, again {reply}")


def _check_energy(link: Link, connectors: int, tally: Tally) -> None:
    reply = link.request("snapshot", timeout_s=5.0)
    values = reply["result"]["vars"] if reply and reply.get("ok") else {}
    for evse in range(1, connectors + 1):
        meter = values.get(f"evse/{evse}/powermeter")
        if meter is None:
            continue
        energy = float(meter["energy_Wh_import"]["total"])
        if energy < tally.energy_seen.get(evse, 0.0):
            tally.energy_backwards.append(f"evse {evse}: {tally.energy_seen[evse]} -> {energy}")
        tally.energy_seen[evse] = energy


def _event_log(link: Link, evse: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        since = found[-1]["event_seq"] if found else 0
        reply = link.request("get_events", evse, args={"since": since}, timeout_s=10.0)
        page = reply["result"]["events"]
        if not page:
            return found
        found += page


def _violations(link: Link, connectors: int, tally: Tally) -> list[str]:
    problems: list[str] = list(tally.repeats_differing) + list(tally.energy_backwards)
    sessions = 0
    for evse in range(1, connectors + 1):
        log = _event_log(link, evse)
        seqs = [e["event_seq"] for e in log]
        if seqs != list(range(1, len(seqs) + 1)):
            problems.append(f"evse {evse}: event_seq not 1..{len(seqs)}")
        started = [e["value"]["uuid"] for e in log if e["value"]["event"] == "SessionStarted"]
        finished = [e["value"]["uuid"] for e in log if e["value"]["event"] == "SessionFinished"]
        sessions += len(started)
        if len(set(started)) != len(started) or len(set(finished)) != len(finished):
            problems.append(f"evse {evse}: a session started or finished twice")
        open_ = [u for u in started if u not in finished]
        if len(open_) > 1 or (open_ and started[-1] != open_[0]):
            problems.append(f"evse {evse}: sessions lost: {open_}")
        reservations = [
            e["value"]["reservation_start"]["reservation_id"]
            for e in log
            if e["value"]["event"] == "ReservationStart" and "reservation_start" in e["value"]
        ]
        if len(set(reservations)) != len(reservations):
            problems.append(f"evse {evse}: a reservation started twice (a double execution)")
    tally.sessions = sessions
    return problems


def run(opts: argparse.Namespace) -> int:
    rng = random.Random(opts.seed)
    work = Path(tempfile.mkdtemp(prefix="station-kills-"))
    state_dir = work / "state"
    config = work / "station.yaml"
    config.write_text(
        config_text(opts.connectors, 60.0, Limits(), opts.isolation, opts.connectors_per_worker)
    )
    plant = f"ipc://{state_dir}/plant.sock"
    tally = Tally()
    try:
        for kill in range(opts.station_kills + 1):
            began = time.monotonic()
            station = StationProcess(config, state_dir, work / f"station-{kill}.log")
            station.wait_ready()
            link = Link(station.command_endpoint)
            _wait_all_answer(link, opts.connectors)
            tally.starts_to_answer_s.append(time.monotonic() - began)
            _repeat_newest(link, opts.connectors, tally)
            _check_energy(link, opts.connectors, tally)
            if kill == opts.station_kills:
                problems = _violations(link, opts.connectors, tally)
                link.close()
                station.stop()
                break
            stop = threading.Event()
            player = threading.Thread(target=_play, args=(link, plant, opts.connectors, rng, tally, stop))
            player.start()
            stop.wait(rng.uniform(1.0, 4.0))
            station.proc.kill()  # at a random moment of the sessions
            station.proc.wait()
            stop.set()
            player.join()
            link.close()
        _report(opts, tally, problems)
        return 1 if problems else 0
    finally:
        call(plant, "plant_stop", 2.0)
        shutil.rmtree(work, ignore_errors=True)


def _report(opts: argparse.Namespace, tally: Tally, problems: list[str]) -> None:
    times = sorted(tally.starts_to_answer_s)
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    median = statistics.median(times)
    print(f"station kills: {opts.station_kills} on {opts.connectors} connectors (seed {opts.seed})")
    print(f"sessions in the event logs: {tally.sessions}; keyed requests: {len(tally.keyed)}")
    print(f"keyed requests unanswered because the station died under them: {tally.unanswered}")
    print(
        f"start to every connector answering: median {median:.2f} s, p99 {p99:.2f} s, max {times[-1]:.2f} s"
    )
    print(f"violations: {len(problems)}")
    for problem in problems:
        print(f"  {problem}")
