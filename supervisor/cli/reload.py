"""`evse-supervisor reload`: find the running station through its state dir's lock, send SIGHUP."""

from __future__ import annotations

import os
import pathlib
import signal
import sys

from supervisor.config import ConfigError, load_config
from supervisor.ops import running_pid


def reload_running(config: pathlib.Path | None, state_dir: pathlib.Path | None) -> int:
    """0 once the station holding the state dir was told to reload; 1, with one line, otherwise."""
    if state_dir is None:
        try:
            state_dir = load_config(config).state_dir
        except ConfigError as exc:
            print(f"evse-supervisor: {exc}", file=sys.stderr)
            return 1
    pid = running_pid(state_dir)
    if pid is None:
        print(f"evse-supervisor: no station runs on state dir {state_dir}", file=sys.stderr)
        return 1
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        print(f"evse-supervisor: cannot signal the station (pid {pid}): {exc.strerror}", file=sys.stderr)
        return 1
    print(f"reload asked of the station with pid {pid} on state dir {state_dir}; its log says what changed")
    return 0
