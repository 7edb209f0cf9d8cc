"""The resources a running service holds: engine, sessions, object store, limiter, verifier.

Built from the settings by :func:`open_resources`; API, relay and worker share it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from healthplatform.cache.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from healthplatform.core.tokens import JwksCache, TokenVerifier
from healthplatform.db.engine import create_engine, create_sessionmaker
from healthplatform.settings import Settings
from healthplatform.storage import ObjectStore, create_object_store


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    limiter: RateLimiter
    verifier: TokenVerifier


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


@asynccontextmanager
async def open_resources(settings: Settings, service: str) -> AsyncIterator[Resources]:
    engine = create_engine(settings, application_name=f"healthplatform-{service}")
    store = create_object_store(settings)
    await store.start()
    limiter = create_limiter(settings)
    jwks = JwksCache(jwks_url(settings), min_refresh=settings.jwks_min_refresh_seconds)
    verifier = TokenVerifier(
        jwks,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithms=settings.jwt_algorithms,
        leeway=settings.jwt_leeway_seconds,
    )
    try:
        yield Resources(settings, engine, create_sessionmaker(engine), store, limiter, verifier)
    finally:
        await jwks.close()
        await limiter.close()
        await store.close()
        await engine.dispose()
