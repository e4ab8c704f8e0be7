"""Authorization through the central system, with the authorization cache (OCPP 1.6 3.5.1).

A token is checked with Authorize.req unless LocalPreAuthorize is on and the cache holds it
as Accepted; without an answer (offline, timeout, CallError) a cached Accepted token is
accepted when LocalAuthorizeOffline is on, and anything else is refused (no offline
transactions for unknown ids). Every idTagInfo the central system sends updates the cache.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supervisor.ocpp.store import CachedTag

ACCEPTED = "Accepted"


class BadIdTag(Exception):
    """A token the central system cannot take: OCPP 1.6 idTags are 1 to 20 characters (`bad_args`)."""


NOT_ANSWERED = CachedTag("Invalid", None, None)


@dataclass(frozen=True)
class Verdict:
    status: str  # AuthorizationStatus; "Accepted" authorizes
    parent_id_tag: str | None = None
    source: str = "central system"  # or "cache", or "none" (no answer, not cached)

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


def cached_tag(id_tag_info: dict[str, Any]) -> CachedTag:
    """An idTagInfo (snake_case, as the library gives it) as a cache entry."""
    expiry = id_tag_info.get("expiry_date")
    return CachedTag(str(id_tag_info["status"]), id_tag_info.get("parent_id_tag"), _unix_s(expiry))


def _unix_s(date: str | None) -> float | None:
    if not date:
        return None
    try:
        return datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class AuthorizationCache:
    """The cache in memory, written through to the store by `persist` (on the bridge's worker)."""

    def __init__(self, tags: dict[str, CachedTag], clock: Callable[[], float] = time.time) -> None:
        self._tags = dict(tags)
        self._clock = clock

    def accepted(self, id_tag: str) -> CachedTag | None:
        tag = self._tags.get(id_tag)
        if tag is None or tag.status != ACCEPTED:
            return None
        if tag.expiry_s is not None and tag.expiry_s <= self._clock():
            return None
        return tag

    def update(self, id_tag: str, tag: CachedTag) -> None:
        self._tags[id_tag] = tag

    def clear(self) -> None:
        self._tags.clear()


Ask = Callable[[str], Awaitable[dict[str, Any] | None]]  # Authorize.req → idTagInfo, None: no answer


async def verdict(
    id_tag: str,
    cache: AuthorizationCache,
    ask: Ask | None,
    *,
    local_pre_authorize: bool,
    local_authorize_offline: bool,
) -> Verdict:
    """The verdict on `id_tag`; `ask` is None while the central system is not reachable."""
    cached = cache.accepted(id_tag)
    if cached is not None and local_pre_authorize:
        return Verdict(ACCEPTED, cached.parent_id_tag, "cache")
    info = await ask(id_tag) if ask is not None else None
    if info is not None:
        tag = cached_tag(info)
        cache.update(id_tag, tag)
        return Verdict(tag.status, tag.parent_id_tag)
    if cached is not None and local_authorize_offline:
        return Verdict(ACCEPTED, cached.parent_id_tag, "cache")
    return Verdict(NOT_ANSWERED.status, None, "none")
