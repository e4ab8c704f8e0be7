"""`state_dir/endpoints.json`: the endpoints the station bound (useful with `tcp://127.0.0.1:*`)."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

ENDPOINTS_FILE = "endpoints.json"


def write_endpoints(state_dir: pathlib.Path, command_endpoint: str, publish_endpoint: str) -> None:
    """Write the file atomically, so a reader never sees half of it."""
    path = state_dir / ENDPOINTS_FILE
    tmp = path.with_name(f".{ENDPOINTS_FILE}.{os.getpid()}.tmp")
    record = {"command_endpoint": command_endpoint, "publish_endpoint": publish_endpoint, "pid": os.getpid()}
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def read_endpoints(state_dir: pathlib.Path) -> dict[str, Any] | None:
    """What the station last wrote there; None when there is no readable file."""
    try:
        record: dict[str, Any] = json.loads((state_dir / ENDPOINTS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record
