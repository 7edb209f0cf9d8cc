"""Engine and session factory for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from healthplatform.settings import Settings


def _json_dumps(value: Any) -> str:
    """JSON columns are written for every record the ETL stores: orjson is several times
    faster than the standard library here."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    """``chmod`` what this user owns (a shared folder given as data dir stays as it is)."""
    if path.exists() and path.stat().st_uid == os.getuid():
        path.chmod(mode)


def private_sqlite_file(url: str, data_dir: Path) -> None:
    """Health data and credentials are nobody else's business: the data folder is 0700 and
    the SQLite file 0600, created so before SQLite opens it (its ``-wal``/``-shm``/journal
    files take the database file's mode); existing ones are tightened."""
    data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(data_dir, PRIVATE_DIR_MODE)
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE))
    for suffix in ("", "-wal", "-shm", "-journal"):
        _tighten(path.with_name(path.name + suffix), PRIVATE_FILE_MODE)


def build_engine(
    url: str,
    *,
    data_dir: Path,
    pool_size: int,
    connect_timeout: float,
    application_name: str,
    pre_ping: bool,
    command_timeout: float = 30,
) -> AsyncEngine:
    """An engine for either database (health or auth): SQLite with WAL and foreign keys
    locally, asyncpg with a bounded pool and fast connect timeouts in production."""
    if is_sqlite(url):
        private_sqlite_file(url, data_dir)
        engine = create_async_engine(url, connect_args={"timeout": 15}, **JSON_CODEC)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        return engine
    return create_async_engine(
        url,
        **JSON_CODEC,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        pool_timeout=connect_timeout,
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
            "server_settings": {"application_name": application_name},
        },
    )


def create_engine(settings: Settings, *, application_name: str = "healthplatform") -> AsyncEngine:
    """The health database. No pre-ping (a round trip per checkout on the upload hot path):
    a dropped connection fails one request with 503 and invalidates the pool."""
    return build_engine(
        settings.resolved_database_url,
        data_dir=settings.data_dir,
        pool_size=settings.database_pool_size,
        connect_timeout=settings.database_connect_timeout_seconds,
        application_name=application_name,
        pre_ping=False,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose every statement commits on its own: for a single statement on a
    hot path, without the BEGIN and COMMIT/ROLLBACK round trips of a transaction."""
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work: commit on success, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session
