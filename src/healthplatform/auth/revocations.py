"""Revoked device sessions, published to the list every token verifier reads
(:mod:`healthplatform.core.revocation`).

The database stays the record: a revocation is committed there first, then published
(a session deleted with its account leaves its id in ``auth_ended_sessions`` for this).
A failed publish (Redis down) is logged and retried by :func:`republish_loop`, which
every ``REPUBLISH_SECONDS`` re-publishes the sessions revoked within the keep window (this
also refills a Valkey that restarted empty). A revocation therefore reaches every verifier
within ``REPUBLISH_SECONDS`` + the verifiers' refresh interval (30 + 5 s), well under 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from healthplatform.auth.models import DeviceSession, EndedSession, utcnow
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.errors import DependencyUnavailable
from healthplatform.core.revocation import (
    MemoryRevocationList,
    RedisRevocationList,
    RevocationList,
)

log = logging.getLogger(__name__)

REPUBLISH_SECONDS = 30.0
MAX_LEEWAY_SECONDS = 300  # the largest clock-skew leeway a verifier may allow


def keep_seconds(settings: AuthSettings) -> int:
    """How long a revocation matters: a token issued just before it stays valid this long."""
    return settings.access_token_ttl + MAX_LEEWAY_SECONDS


def create_revocation_list(settings: AuthSettings) -> RevocationList:
    url = settings.revocation_redis_url.get_secret_value() or settings.redis_url.get_secret_value()
    if url:
        return RedisRevocationList(
            url, settings.revocation_redis_key, keep_seconds=keep_seconds(settings)
        )
    return MemoryRevocationList(keep_seconds(settings))


async def publish(revocations: RevocationList, session_ids: Iterable[str]) -> bool:
    """``False`` when the list is unreachable (the periodic republish retries)."""
    try:
        await revocations.revoke(list(session_ids))
    except DependencyUnavailable as exc:
        log.warning("revocation not published yet, retried", extra={"error": str(exc)})
        return False
    return True


async def republish_recent(
    sessions: async_sessionmaker[AsyncSession],
    revocations: RevocationList,
    settings: AuthSettings,
) -> int:
    """Publish every session revoked, or deleted with its account, within the keep window;
    the number published."""
    since = utcnow() - timedelta(seconds=keep_seconds(settings))
    async with sessions() as session:
        rows = await session.scalars(
            select(DeviceSession.id).where(DeviceSession.revoked_at >= since)
        )
        ids = [str(sid) for sid in rows]
        ended = await session.scalars(
            select(EndedSession.session_id).where(EndedSession.ended_at >= since)
        )
        ids += [str(sid) for sid in ended]
    if ids and not await publish(revocations, ids):
        return 0
    return len(ids)


async def republish_loop(
    sessions: async_sessionmaker[AsyncSession],
    revocations: RevocationList,
    settings: AuthSettings,
    interval: float = REPUBLISH_SECONDS,
) -> None:
    """Runs for the service's lifetime (cancelled at shutdown)."""
    while True:
        await asyncio.sleep(interval)
        await _republish_logged(sessions, revocations, settings)


async def _republish_logged(
    sessions: async_sessionmaker[AsyncSession],
    revocations: RevocationList,
    settings: AuthSettings,
) -> None:
    try:
        await republish_recent(sessions, revocations, settings)
    except Exception as exc:  # a database hiccup must not stop the service or the loop
        log.warning("revocation republish failed", extra={"error": str(exc)[:200]})


@contextlib.asynccontextmanager
async def republishing(
    sessions: async_sessionmaker[AsyncSession],
    revocations: RevocationList,
    settings: AuthSettings,
) -> AsyncIterator[None]:
    """One pass before the service answers (a restarted process or an emptied Valkey
    knows the recent revocations at once), then :func:`republish_loop` in the background."""
    await _republish_logged(sessions, revocations, settings)
    task = asyncio.create_task(republish_loop(sessions, revocations, settings))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
