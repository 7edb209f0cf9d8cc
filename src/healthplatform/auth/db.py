"""Engine and sessions of the auth database (PostgreSQL via asyncpg, or SQLite locally)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from healthplatform.auth.settings import AuthSettings
from healthplatform.db.engine import build_engine


def create_auth_engine(
    settings: AuthSettings, *, application_name: str = "healthplatform-auth"
) -> AsyncEngine:
    """The auth database; logins are rare next to uploads, so a ping per checkout buys a
    clean failover."""
    return build_engine(
        settings.resolved_database_url,
        data_dir=settings.data_dir,
        pool_size=settings.database_pool_size,
        connect_timeout=settings.database_connect_timeout_seconds,
        application_name=application_name,
        pre_ping=True,
        command_timeout=10,
    )


def create_auth_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
