"""Revoked device sessions: the ``sid`` claim of access tokens whose session ended (logout,
a device signed out, refresh-token reuse, a removed passkey).

The auth service writes, every token verifier reads. Production: one Redis/Valkey sorted
set (member = session id, score = the writer's Unix time when it was written). A reader
keeps a copy of the set in process, checks every request against the copy and re-reads
what was added since its last read every ``refresh_seconds`` (default 5 s), so a
revocation reaches every replica within that interval. A reader that cannot read the set
for ``max_staleness`` seconds (60) refuses tokens (503) rather than accept revoked ones.

A revocation matters only while a token issued before it can still be valid: the writer
trims entries older than ``keep_seconds`` (its access-token lifetime plus leeway) and the
reader forgets them after its own maximum token lifetime plus leeway.

Locally (``healthplatform up``) auth and API share one process and one
:class:`MemoryRevocationList`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from healthplatform.core.errors import DependencyUnavailable

log = logging.getLogger(__name__)

MAX_STALENESS_SECONDS = 60.0
# entries are read back from this far before the last read: covers clock skew between
# writer and reader and writes that were in flight during the last read
READ_OVERLAP_SECONDS = 60.0
_PURGE_EVERY = 10_000


class RevocationList(Protocol):
    async def revoke(self, session_ids: Iterable[str]) -> None: ...

    async def is_revoked(self, session_id: str) -> bool: ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class MemoryRevocationList:
    """One process (local runs): writer and reader share this object."""

    def __init__(self, keep_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.keep_seconds = keep_seconds
        self._clock = clock
        self._until: dict[str, float] = {}

    async def revoke(self, session_ids: Iterable[str]) -> None:
        now = self._clock()
        for sid in session_ids:
            self._until[sid] = now + self.keep_seconds
        if len(self._until) > _PURGE_EVERY:
            self._until = {k: v for k, v in self._until.items() if v > now}

    async def is_revoked(self, session_id: str) -> bool:
        return self._until.get(session_id, float("-inf")) > self._clock()

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisRevocationList:
    """Shared through Redis/Valkey by every replica of every service."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        keep_seconds: float,
        refresh_seconds: float = 5.0,
        max_staleness: float = MAX_STALENESS_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = aioredis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
        )
        self.key = key
        self.keep_seconds = keep_seconds
        self.refresh_seconds = refresh_seconds
        self.max_staleness = max_staleness
        self._clock = clock
        self._seen: dict[str, float] = {}  # sid -> score (writer time)
        self._read_at = float("-inf")  # wall-clock time of the last successful read
        self._retry_at = float("-inf")
        self._lock = asyncio.Lock()

    async def revoke(self, session_ids: Iterable[str]) -> None:
        ids = list(session_ids)
        if not ids:
            return
        now = self._clock()
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zadd(self.key, dict.fromkeys(ids, now), nx=True)
                pipe.zremrangebyscore(self.key, "-inf", now - self.keep_seconds)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("revocation list") from exc
        for sid in ids:  # this process knows at once
            self._seen.setdefault(sid, now)

    async def is_revoked(self, session_id: str) -> bool:
        await self._sync()
        score = self._seen.get(session_id)
        return score is not None and score + self.keep_seconds > self._clock()

    async def _sync(self) -> None:
        now = self._clock()
        if now - self._read_at < self.refresh_seconds or now < self._retry_at:
            self._fail_if_stale(now)
            return
        async with self._lock:
            now = self._clock()
            if now - self._read_at < self.refresh_seconds:
                return
            since = max(self._read_at - READ_OVERLAP_SECONDS, now - self.keep_seconds)
            try:
                rows = await self.client.zrangebyscore(self.key, since, "+inf", withscores=True)
            except (RedisError, OSError) as exc:
                self._retry_at = now + 1.0  # requests meanwhile use the copy, do not queue
                log.warning("revocation list unreadable", extra={"error": str(exc)[:200]})
                self._fail_if_stale(now)
                return
            for row in rows:
                sid, score = row[0], row[1]
                self._seen[str(sid)] = float(score)
            if len(self._seen) > _PURGE_EVERY:
                cutoff = now - self.keep_seconds
                self._seen = {k: v for k, v in self._seen.items() if v > cutoff}
            self._read_at = now

    def _fail_if_stale(self, now: float) -> None:
        if now - self._read_at > self.max_staleness:
            raise DependencyUnavailable("revocation list")

    async def check(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
