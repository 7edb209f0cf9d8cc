"""Engines of both databases (health and auth) and their session factory, on PostgreSQL
(asyncpg) or SQLite (aiosqlite)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import orjson
from sqlalchemy import event, exc, make_url
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


class DatabaseSettings(Protocol):
    """What an engine reads from a settings class (``Settings`` or ``AuthSettings``)."""

    @property
    def resolved_database_url(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def database_pool_size(self) -> int: ...
    @property
    def database_connect_timeout_seconds(self) -> float: ...


def build_engine(
    settings: DatabaseSettings,
    *,
    application_name: str,
    pre_ping: bool,
    command_timeout: float = 30,
    ping_idle_seconds: float = 10.0,
) -> AsyncEngine:
    """An engine for either database (health or auth): SQLite with WAL and foreign keys
    locally, asyncpg with a bounded pool and fast connect timeouts in production."""
    url = settings.resolved_database_url
    pool_size = settings.database_pool_size
    connect_timeout = settings.database_connect_timeout_seconds
    if is_sqlite(url):
        private_sqlite_file(url, settings.data_dir)
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
    engine = create_async_engine(
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
    guard_pool(engine, ping_idle_seconds)
    return engine


# Errors that say the connection (not the statement) failed: the server restarted, the
# backend was terminated, the network dropped.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
)


def invalidate_pool(engine: AsyncEngine) -> None:
    """Every connection the pool holds now is replaced at its next checkout (what
    SQLAlchemy does itself when it sees a disconnect): after one connection was found
    dead, the others opened before the same restart are dead too."""
    pool: Any = engine.sync_engine.pool
    pool._invalidate(None, _checkin=False)


def guard_pool(engine: AsyncEngine, ping_idle_seconds: float) -> None:
    """A PostgreSQL restart leaves every pooled connection dead while the server is
    healthy again. Three guards, so that no request gets one:

    * checkout: a connection the server has closed (asyncpg saw the socket end) is never
      handed out; a connection idle for ``ping_idle_seconds`` is pinged first (catches a
      silently dropped TCP connection). Either failure invalidates the whole pool and the
      pool opens a fresh connection (``InvalidatePoolError``);
    * an error during a statement that says the connection was lost counts as a
      disconnect: SQLAlchemy invalidates the whole pool, not just that connection;
    * :func:`invalidate_pool` for the statements run on the driver
      (:mod:`healthplatform.db.driver`)."""
    sync = engine.sync_engine

    @event.listens_for(sync, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_conn, "_connection", None)
        if driver is not None and driver.is_closed():
            raise exc.InvalidatePoolError("pooled connection closed by the server")
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < ping_idle_seconds:
            return
        try:
            dbapi_conn.ping()
        except Exception as error:
            raise exc.InvalidatePoolError(f"ping failed: {error}") from error

    @event.listens_for(sync, "handle_error")
    def _connection_lost(context: Any) -> None:
        original = context.original_exception
        if isinstance(original, CONNECTION_LOST) or isinstance(
            getattr(original, "__cause__", None), CONNECTION_LOST
        ):
            context.is_disconnect = True


def create_engine(settings: Settings, *, application_name: str = "healthplatform") -> AsyncEngine:
    """The health database. No pre-ping on every checkout (a round trip per checkout on the
    upload hot path); :func:`guard_pool` checks each checkout for a connection the server
    closed (free), pings only connections idle for ``database_ping_idle_seconds``, and
    invalidates the whole pool on the first connection-level failure."""
    return build_engine(
        settings,
        application_name=application_name,
        pre_ping=False,
        ping_idle_seconds=settings.database_ping_idle_seconds,
    )


def create_auth_engine(
    settings: DatabaseSettings, *, application_name: str = "healthplatform-auth"
) -> AsyncEngine:
    """The auth database; logins are rare next to uploads, so a ping per checkout buys a
    clean failover."""
    return build_engine(
        settings,
        application_name=application_name,
        pre_ping=True,
        command_timeout=10,
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
