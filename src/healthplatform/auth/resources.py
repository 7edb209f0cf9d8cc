"""What a running auth service holds: engine, sessions, challenge store, key ring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from healthplatform.auth.challenges import ChallengeStore, create_challenge_store
from healthplatform.auth.keys import (
    KeyEncryptor,
    KeyRing,
    ensure_active_key,
    resolve_key_encryption_key,
)
from healthplatform.auth.limits import AuthLimits
from healthplatform.auth.origins import OriginPolicy
from healthplatform.auth.revocations import create_revocation_list, republishing
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.revocation import RevocationList
from healthplatform.db.engine import create_auth_engine, create_sessionmaker


@dataclass
class AuthResources:
    settings: AuthSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    challenges: ChallengeStore
    keys: KeyRing
    encryptor: KeyEncryptor
    origins: OriginPolicy
    revocations: RevocationList
    limits: AuthLimits


@asynccontextmanager
async def open_auth_resources(
    settings: AuthSettings,
    *,
    challenges: ChallengeStore | None = None,
    revocations: RevocationList | None = None,
) -> AsyncIterator[AuthResources]:
    """Open everything and make sure a signing key exists (the first start creates one;
    the database must be migrated: :meth:`healthplatform.db.migrate.AUTH.upgrade`).
    ``revocations``: a list shared with the API in this process (``up``)."""
    encryptor = KeyEncryptor(resolve_key_encryption_key(settings))
    engine = create_auth_engine(settings)
    sessions = create_sessionmaker(engine)
    store = challenges or create_challenge_store(settings)
    keys = KeyRing(sessions, encryptor, reload_seconds=settings.key_reload_seconds)
    revoked = revocations or create_revocation_list(settings)
    limits = AuthLimits(settings)
    try:
        await ensure_active_key(sessions, encryptor, settings)
        await keys.reload()
        async with republishing(sessions, revoked, settings):
            yield AuthResources(
                settings,
                engine,
                sessions,
                store,
                keys,
                encryptor,
                OriginPolicy(settings),
                revoked,
                limits,
            )
    finally:
        if revocations is None:
            await revoked.close()
        await limits.close()
        await store.close()
        await engine.dispose()
