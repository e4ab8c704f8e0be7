"""`evsectl top`'s live loop: publications and the keyboard on one poller; `q` quits.

The keys move the page (`top_page.Keys`); when the page shows other connectors (a key, or
the terminal's height changed) their rows are fetched and the subscriptions follow: only
`station/` and the page's `evse/<n>/` topics are subscribed, so the station's publisher
filters the rest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import termios
import time
import tty
from collections.abc import Iterator

import msgpack
import zmq
from rich.console import Console
from rich.live import Live

from supervisor.client import Client
from supervisor.client.top import STALE_AFTER_S, TopModel
from supervisor.client.top_page import Keys

POLL_MS = 250
WORKERS_EVERY_S = 2.0  # the workers' pids, RSS and CPU asked again (process isolation only)


@contextlib.contextmanager
def _keys() -> Iterator[int | None]:
    """stdin in cbreak mode (its fd), or None when it is not a terminal."""
    if not sys.stdin.isatty():
        yield None
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _check(client: Client, model: TopModel) -> None:
    """A stale station is pinged: no answer, or (a new epoch) everything loaded again."""
    timeout_s, retries = client.timeout_s, client.retries
    client.timeout_s, client.retries = min(timeout_s, STALE_AFTER_S / 2), 0
    try:
        epoch = client.ping().get("epoch")
        if str(epoch) != model.epoch:
            model.load(client)
    except TimeoutError:
        model.link = "no answer"
    finally:
        client.timeout_s, client.retries = timeout_s, retries


def _refresh_workers(client: Client, model: TopModel) -> None:
    with contextlib.suppress(TimeoutError):
        model.refresh_workers(client)


class Subscriptions:
    """The SUB socket's topics kept to the page's (`TopModel.topics`)."""

    def __init__(self, sub: zmq.Socket[bytes]) -> None:
        self._sub = sub
        self._topics: set[str] = set()

    def follow(self, wanted: set[str]) -> None:
        for topic in self._topics - wanted:
            self._sub.setsockopt(zmq.UNSUBSCRIBE, topic.encode())
        for topic in wanted - self._topics:
            self._sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._topics = set(wanted)


def _follow_page(client: Client, model: TopModel, shown: list[int], fixed_rows: bool) -> list[int]:
    """After a key or a resize: the new page's rows fetched when it shows other connectors."""
    if not fixed_rows:
        model.page.resize(model.rows_fitting(shutil.get_terminal_size((80, 24)).lines))
    if model.page.visible() != shown:
        try:
            model.load_page(client)
        except TimeoutError:
            model.link = "no answer"
    return model.page.visible()


def run_live(client: Client, model: TopModel, console: Console, width: int, fixed_rows: bool = False) -> int:
    assert client.publish_endpoint is not None
    sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sub.linger = 0
    subscriptions = Subscriptions(sub)
    subscriptions.follow(model.topics())
    sub.connect(client.publish_endpoint)
    checked_s = workers_s = time.monotonic()
    typed = Keys(model.page)
    shown = model.page.visible()
    try:
        with _keys() as keys, Live(model.render(width), console=console, auto_refresh=False) as live:
            poller = zmq.Poller()
            poller.register(sub, zmq.POLLIN)
            if keys is not None:
                poller.register(keys, zmq.POLLIN)
            while True:
                ready = dict(poller.poll(POLL_MS))
                if keys is not None and keys in ready and not typed.feed(os.read(keys, 64)):
                    return 0
                model.typing = typed.typing
                shown = _follow_page(client, model, shown, fixed_rows)
                subscriptions.follow(model.topics())
                while sub in ready and sub.poll(0, zmq.POLLIN):
                    frames = sub.recv_multipart()
                    model.apply(frames[0].decode(), msgpack.unpackb(frames[-1], raw=False).get("value"))
                now_s = time.monotonic()
                model.age(now_s)
                if model.link != "connected" and now_s - checked_s > STALE_AFTER_S:
                    checked_s = now_s
                    _check(client, model)
                elif model.workers and now_s - workers_s > WORKERS_EVERY_S:
                    workers_s = now_s
                    _refresh_workers(client, model)
                live.update(model.render(width), refresh=True)
    except KeyboardInterrupt:
        return 0
    finally:
        sub.close(linger=0)
