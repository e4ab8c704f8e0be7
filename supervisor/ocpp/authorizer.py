"""Tokens checked with the central system for the connectors (OCPP 1.6 3.5.1, 4.1 Authorize).

`authorize` is called from the API's threads and waits for the bridge's loop; `check_tag`
runs on the loop (a remote start's idTag). The rules themselves are `authorization.verdict`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import Any

import websockets
from ocpp.v16 import call

from actors.messages import Authorize
from supervisor.config.ocpp import ID_TAG_MAX_CHARS
from supervisor.ocpp.authorization import Ask, BadIdTag, Verdict, cached_tag, verdict
from supervisor.ocpp.context import Context
from supervisor.ocpp.sender import FAILURES

log = logging.getLogger(__name__)

VERDICT_SHARE = 0.8  # of a command's deadline, for the central system's answer


class Authorizer:
    def __init__(self, ctx: Context, loop: asyncio.AbstractEventLoop) -> None:
        self._ctx = ctx
        self._loop = loop

    def authorize(self, index: int, request: Authorize, timeout_s: float) -> bool:
        """The connector's `authorize`, once the central system (or the cache) accepted the token."""
        token = request.auth_token
        if not token or len(token) > ID_TAG_MAX_CHARS:
            problem = f"must be 1 to {ID_TAG_MAX_CHARS} characters (an OCPP 1.6 idTag), got {token!r}"
            raise BadIdTag(f"authorize: auth_token {problem}")
        deadline = time.monotonic() + timeout_s
        future = asyncio.run_coroutine_threadsafe(self._verdict(token, VERDICT_SHARE * timeout_s), self._loop)
        try:
            found = future.result(timeout_s)
        except (concurrent.futures.TimeoutError, RuntimeError):
            future.cancel()
            return False
        if not found.accepted:
            log.info("evse %d: token refused (%s, %s)", index, found.status, found.source)
            return False
        accepted = Authorize(token, found.parent_id_tag or request.parent_id)
        left_s = max(0.1, deadline - time.monotonic())
        return bool(self._ctx.connectors.ask(index, accepted, left_s))

    async def check_tag(self, id_tag: str) -> Verdict:
        """The central system's verdict on a remote start's idTag (AuthorizeRemoteTxRequests)."""
        return await self._verdict(id_tag, self._ctx.config.settings.response_timeout_s)

    async def _verdict(self, token: str, budget_s: float) -> Verdict:
        settings = self._ctx.config.settings
        return await verdict(
            token,
            self._ctx.cache,
            self._central_system(budget_s),
            local_pre_authorize=settings.local_pre_authorize,
            local_authorize_offline=settings.local_authorize_offline,
        )

    def _central_system(self, budget_s: float) -> Ask | None:
        """Authorize.req within `budget_s`, caching the answer; None while not accepted."""
        charge_point = self._ctx.link.accepted
        if charge_point is None:
            return None

        async def ask(id_tag: str) -> dict[str, Any] | None:
            try:
                conf = await asyncio.wait_for(
                    charge_point.call(call.Authorize(id_tag=id_tag), suppress=False), budget_s
                )
            except (*FAILURES, websockets.ConnectionClosed) as exc:
                log.warning("Authorize got no answer: %r", exc)
                return None
            info: dict[str, Any] = conf.id_tag_info
            await self._ctx.io(self._ctx.store.cache_tag, id_tag, cached_tag(info))
            return info

        return ask
