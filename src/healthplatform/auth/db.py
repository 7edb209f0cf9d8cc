"""Engine and sessions of the auth database (PostgreSQL via asyncpg, or SQLite locally)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from healthplatform.auth.settings import AuthSettings


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_auth_engine(
    settings: AuthSettings, *, application_name: str = "healthplatform-auth"
) -> AsyncEngine:
    url = settings.resolved_database_url
    if is_sqlite(url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 15})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        return engine
    timeout = settings.database_connect_timeout_seconds
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,  # logins are rare next to uploads: a ping buys clean failover
        pool_recycle=1800,
        pool_timeout=timeout,
        connect_args={
            "timeout": timeout,
            "command_timeout": 10,
            "server_settings": {"application_name": application_name},
        },
    )


def create_auth_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
