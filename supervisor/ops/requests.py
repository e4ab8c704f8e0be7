"""What the API answered: one log line per command that changed something, and request metrics.

A `RequestRecorder` is the API's `RequestObserver`. A successful command that is not a
read (`supervisor.api.commands.READS`) is logged with who sent it: the client id, or the
peer's routing id when the request named no client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from supervisor.api.commands import READS
from supervisor.api.protocol import Request, reply_code
from supervisor.ops.logs import about

log = logging.getLogger("evse_supervisor.commands")


class RequestMetrics(Protocol):
    def request_done(self, command: str, code: str, elapsed_s: float) -> None: ...


class RequestRecorder:
    def __init__(self, evse_ids: Mapping[int, str], metrics: RequestMetrics | None = None) -> None:
        self._evse_ids = dict(evse_ids)
        self._metrics = metrics

    def request_done(
        self, request: Request | None, reply: bytes, elapsed_s: float, who: str, index: int | None
    ) -> None:
        code = reply_code(reply)
        command = request.cmd if request is not None else ""
        if self._metrics is not None:
            self._metrics.request_done(command, code, elapsed_s)
        if request is None or code != "ok" or command in READS or not log.isEnabledFor(logging.INFO):
            return
        by = f"client {who}" if request.client is not None else f"peer {who}"
        fields = about(index, self._evse_ids.get(index) if index is not None else None)
        fields.update(command=command, command_args=request.args, client=request.client, peer=who)
        shown = " ".join(f"{name}={value!r}" for name, value in request.args.items())
        log.info("%s%s by %s", command, f" {shown}" if shown else "", by, extra=fields)
