"""`evsectl top`'s live loop: publications and the keyboard on one poller; `q` quits."""

from __future__ import annotations

import contextlib
import os
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

POLL_MS = 250


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


def run_live(client: Client, model: TopModel, console: Console, width: int) -> int:
    assert client.publish_endpoint is not None
    sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(client.publish_endpoint)
    checked_s = time.monotonic()
    try:
        with _keys() as keys, Live(model.render(width), console=console, auto_refresh=False) as live:
            poller = zmq.Poller()
            poller.register(sub, zmq.POLLIN)
            if keys is not None:
                poller.register(keys, zmq.POLLIN)
            while True:
                ready = dict(poller.poll(POLL_MS))
                if keys is not None and keys in ready and os.read(keys, 1) in (b"q", b"Q"):
                    return 0
                while sub in ready and sub.poll(0, zmq.POLLIN):
                    frames = sub.recv_multipart()
                    model.apply(frames[0].decode(), msgpack.unpackb(frames[-1], raw=False).get("value"))
                now_s = time.monotonic()
                model.age(now_s)
                if model.link != "connected" and now_s - checked_s > STALE_AFTER_S:
                    checked_s = now_s
                    _check(client, model)
                live.update(model.render(width), refresh=True)
    except KeyboardInterrupt:
        return 0
    finally:
        sub.close(linger=0)
