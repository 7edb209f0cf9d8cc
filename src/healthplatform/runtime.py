"""The resources a running service holds: engine, sessions, object store, limiter, verifier.

Built from the settings by :func:`open_resources`; API, relay and worker share it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from healthplatform.cache.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from healthplatform.core.revocation import (
    HttpRevocationList,
    MemoryRevocationList,
    RedisRevocationList,
    RevocationList,
)
from healthplatform.core.tokens import JwksCache, TokenVerifier
from healthplatform.db.engine import create_engine, create_sessionmaker
from healthplatform.settings import Settings
from healthplatform.storage import ObjectStore, create_object_store

log = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    limiter: RateLimiter
    verifier: TokenVerifier
    revocations: RevocationList


def jwks_url(settings: Settings) -> str:
    return settings.jwt_jwks_url or f"{settings.public_url.rstrip('/')}/.well-known/jwks.json"


def create_limiter(settings: Settings) -> RateLimiter:
    url = settings.redis_url.get_secret_value()
    if url:
        return RedisRateLimiter(
            url,
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            settings.redis_key_prefix,
        )
    return MemoryRateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)


def create_revocation_list(settings: Settings) -> RevocationList:
    """Revoked sessions: polled from the auth service, or the shared Redis set, or (no
    Redis) an in-process list that only an auth service in the same process can fill
    (``healthplatform up``)."""
    keep = settings.jwt_max_lifetime_seconds + settings.jwt_leeway_seconds
    if settings.revocation_url:
        return HttpRevocationList(
            settings.revocation_url,
            keep_seconds=keep,
            refresh_seconds=settings.revocation_refresh_seconds,
        )
    url = settings.redis_url.get_secret_value()
    if url:
        return RedisRevocationList(
            url,
            settings.revocation_redis_key,
            keep_seconds=keep,
            refresh_seconds=settings.revocation_refresh_seconds,
        )
    log.warning(
        "no HP_REVOCATION_URL or HP_REDIS_URL: revoked sessions reach this process only from "
        "an auth service in the same process (healthplatform up)"
    )
    return MemoryRevocationList(keep)


@asynccontextmanager
async def open_resources(
    settings: Settings, service: str, *, revocations: RevocationList | None = None
) -> AsyncIterator[Resources]:
    """``revocations``: a list shared with an auth service in this process (``up``)."""
    engine = create_engine(settings, application_name=f"healthplatform-{service}")
    store = create_object_store(settings)
    await store.start()
    limiter = create_limiter(settings)
    revoked = revocations or create_revocation_list(settings)
    jwks = JwksCache(
        jwks_url(settings),
        min_refresh=settings.jwks_min_refresh_seconds,
        ttl=settings.jwks_ttl_seconds,
    )
    verifier = TokenVerifier(
        jwks,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithms=settings.jwt_algorithms,
        leeway=settings.jwt_leeway_seconds,
        max_lifetime=settings.jwt_max_lifetime_seconds,
        revocations=revoked,
    )
    sessions = create_sessionmaker(engine)
    try:
        yield Resources(settings, engine, sessions, store, limiter, verifier, revoked)
    finally:
        if revocations is None:
            await revoked.close()
        await jwks.close()
        await limiter.close()
        await store.close()
        await engine.dispose()
