"""What must hold before a station starts anything: each failure is one clear line, exit 1.

    lock = preflight(settings, flags)    # StartRefused(message); else the state dir's lock, held

The state dir must be a writable directory (created when missing) that no other station
holds; every TCP endpoint to bind must be free, and a port in use names the flag or key
to change. Nothing is started and nothing but the lock file is written before this passes.
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import socket
from collections.abc import Iterable

from supervisor.config.settings import StationSettings
from supervisor.ops.statelock import StartRefused, StateLock

_HOST_PORT = re.compile(r"(?:tcp|http)://\[?(?P<host>[^\]]*?)\]?:(?P<port>[0-9]+|\*)/?")


def preflight(settings: StationSettings) -> StateLock:
    """Check the start conditions; the state dir's lock, held, when they all pass."""
    _check_state_dir(settings.state_dir)
    for where, url in _endpoints(settings):
        _check_free(where, url)
    return StateLock.acquire(settings.state_dir)


def _endpoints(settings: StationSettings) -> Iterable[tuple[str, str]]:
    api = settings.api
    yield "--command-endpoint (api.command_endpoint)", api.command_endpoint
    yield "--publish-endpoint (api.publish_endpoint)", api.publish_endpoint
    if api.metrics_endpoint is not None:
        yield "api.metrics_endpoint", api.metrics_endpoint


def _check_state_dir(state_dir: pathlib.Path) -> None:
    if state_dir.exists() and not state_dir.is_dir():
        raise StartRefused(f"state dir {state_dir} is not a directory; give --state-dir a directory")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartRefused(f"cannot create the state dir {state_dir}: {exc.strerror}") from None
    if not os.access(state_dir, os.W_OK | os.X_OK):
        raise StartRefused(f"state dir {state_dir} is not writable by this user (uid {os.getuid()})")


def _check_free(where: str, url: str) -> None:
    """Bind the endpoint's port once and let it go: in use or not bindable here, say so."""
    match = _HOST_PORT.fullmatch(url)
    if match is None or match["port"] in ("*", "0"):
        return  # ipc:// (guarded by the state dir's lock) or an ephemeral port
    host = "127.0.0.1" if match["host"] == "localhost" else match["host"]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(match["port"])))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartRefused(f"{url} is in use by another program; change {where}") from None
            raise StartRefused(f"cannot bind {url}: {exc.strerror}; change {where}") from None
