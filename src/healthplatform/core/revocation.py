"""Revoked device sessions: the ``sid`` claim of access tokens whose session ended (logout,
a device signed out, refresh-token reuse, a removed passkey).

The auth service writes, every token verifier reads. The auth replicas share one
Redis/Valkey sorted set (member = session id, score = the writer's Unix time when it was
written). A reader keeps a copy in process, checks every request against the copy and
re-reads what was added since its last read every ``refresh_seconds`` (default 5 s), so a
revocation reaches every replica within that interval: straight from the same Redis
(:class:`RedisRevocationList`) or, where the health side must not hold the auth Valkey's
password (the chart), from the auth service's in-cluster endpoint
(:class:`HttpRevocationList`). A reader that cannot read the list for ``max_staleness``
seconds (60) refuses tokens (503) rather than accept revoked ones.

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

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from healthplatform.core.errors import DependencyUnavailable

log = logging.getLogger(__name__)

MAX_STALENESS_SECONDS = 60.0
# entries are read back from this far before the last read: covers clock skew between
# writer and reader and writes that were in flight during the last read
READ_OVERLAP_SECONDS = 60.0
_PURGE_EVERY = 10_000


Entry = tuple[str, float]  # session id, written at (writer's Unix time)


class RevocationList(Protocol):
    async def revoke(self, session_ids: Iterable[str]) -> None: ...

    async def is_revoked(self, session_id: str) -> bool: ...

    async def entries_since(self, since: float) -> list[Entry]:
        """What was written at or after ``since`` (the auth service serves this)."""
        ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class MemoryRevocationList:
    """One process (local runs): writer and reader share this object."""

    def __init__(self, keep_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.keep_seconds = keep_seconds
        self._clock = clock
        self._written: dict[str, float] = {}

    async def revoke(self, session_ids: Iterable[str]) -> None:
        now = self._clock()
        for sid in session_ids:
            self._written.setdefault(sid, now)
        if len(self._written) > _PURGE_EVERY:
            cutoff = now - self.keep_seconds
            self._written = {k: v for k, v in self._written.items() if v > cutoff}

    async def is_revoked(self, session_id: str) -> bool:
        written = self._written.get(session_id)
        return written is not None and written + self.keep_seconds > self._clock()

    async def entries_since(self, since: float) -> list[Entry]:
        cutoff = max(since, self._clock() - self.keep_seconds)
        return [(sid, at) for sid, at in self._written.items() if at >= cutoff]

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


class _PolledRevocationList:
    """A reader's copy of a shared list, topped up every ``refresh_seconds``."""

    def __init__(
        self,
        *,
        keep_seconds: float,
        refresh_seconds: float,
        max_staleness: float,
        clock: Callable[[], float],
    ) -> None:
        self.keep_seconds = keep_seconds
        self.refresh_seconds = refresh_seconds
        self.max_staleness = max_staleness
        self._clock = clock
        self._seen: dict[str, float] = {}  # sid -> written at
        self._read_at = float("-inf")  # reader's wall-clock time of the last good read
        self._retry_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _fetch(self, since: float) -> list[Entry]:
        raise NotImplementedError

    def _remember(self, entries: Iterable[Entry]) -> None:
        for sid, at in entries:
            self._seen.setdefault(sid, at)

    async def is_revoked(self, session_id: str) -> bool:
        await self._sync()
        written = self._seen.get(session_id)
        return written is not None and written + self.keep_seconds > self._clock()

    async def entries_since(self, since: float) -> list[Entry]:
        cutoff = max(since, self._clock() - self.keep_seconds)
        return await self._fetch(cutoff)

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
                entries = await self._fetch(since)
            except DependencyUnavailable as exc:
                self._retry_at = now + 1.0  # requests meanwhile use the copy, do not queue
                log.warning("revocation list unreadable", extra={"error": str(exc)})
                self._fail_if_stale(now)
                return
            self._remember(entries)
            if len(self._seen) > _PURGE_EVERY:
                cutoff = now - self.keep_seconds
                self._seen = {k: v for k, v in self._seen.items() if v > cutoff}
            self._read_at = now

    def _fail_if_stale(self, now: float) -> None:
        if now - self._read_at > self.max_staleness:
            raise DependencyUnavailable("revocation list")


class RedisRevocationList(_PolledRevocationList):
    """Shared through Redis/Valkey: the auth replicas write, readers poll."""

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
        super().__init__(
            keep_seconds=keep_seconds,
            refresh_seconds=refresh_seconds,
            max_staleness=max_staleness,
            clock=clock,
        )
        self.client = aioredis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
        )
        self.key = key

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
        self._remember((sid, now) for sid in ids)  # this process knows at once

    async def _fetch(self, since: float) -> list[Entry]:
        try:
            rows = await self.client.zrangebyscore(self.key, since, "+inf", withscores=True)
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("revocation list") from exc
        return [(str(row[0]), float(row[1])) for row in rows]

    async def check(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


class HttpRevocationList(_PolledRevocationList):
    """Reads the auth service's in-cluster endpoint (``GET <url>?since=<unix time>``,
    answering ``{"revoked": [[sid, written_at], ...]}``); read-only."""

    def __init__(
        self,
        url: str,
        *,
        keep_seconds: float,
        refresh_seconds: float = 5.0,
        max_staleness: float = MAX_STALENESS_SECONDS,
        clock: Callable[[], float] = time.time,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            keep_seconds=keep_seconds,
            refresh_seconds=refresh_seconds,
            max_staleness=max_staleness,
            clock=clock,
        )
        self.url = url
        self._client = client or httpx.AsyncClient(timeout=2.0)

    async def revoke(self, session_ids: Iterable[str]) -> None:
        raise DependencyUnavailable("revocation list (read-only here)")

    async def _fetch(self, since: float) -> list[Entry]:
        try:
            response = await self._client.get(self.url, params={"since": f"{since:.3f}"})
            response.raise_for_status()
            rows = response.json()["revoked"]
            return [(str(sid), float(at)) for sid, at in rows]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise DependencyUnavailable("revocation list") from exc

    async def check(self) -> None:
        await self._fetch(self._clock())

    async def close(self) -> None:
        await self._client.aclose()
