"""The two databases as backup targets, and the SQL that backups, verification and
restores share: table row counts, schema revision, sample reads, CREATE/DROP DATABASE."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, func, inspect, select, table, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from healthplatform.auth.models import AuthBase
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import AUTH, HEALTH
from healthplatform.db.models import Base
from healthplatform.ops.backups.store import DatabaseName
from healthplatform.settings import Settings

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class DatabaseTarget:
    """One database the platform owns: where it is, its tables and its migrations."""

    name: DatabaseName
    url: str  # SQLAlchemy async URL
    version_table: str
    metadata: MetaData
    head: str | None
    migrate: Callable[[str], Awaitable[None]]  # upgrade the database at this URL to head

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        database = make_url(self.url).database
        if not database:
            raise ValueError("in-memory SQLite databases cannot be backed up")
        return Path(database)

    @property
    def database_name(self) -> str:
        return make_url(self.url).database or ""

    def with_url(self, url: str) -> DatabaseTarget:
        return dataclasses.replace(self, url=url)

    def url_for(self, database: str) -> str:
        """The same server and credentials, another database."""
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)


def database_targets(
    settings: Settings, auth_settings: AuthSettings | None = None
) -> dict[DatabaseName, DatabaseTarget]:
    """The health database, and the auth database when its settings are given."""

    async def migrate_health(url: str) -> None:
        await HEALTH.upgrade(settings.model_copy(update={"database_url": url}))

    targets = {
        DatabaseName.health: DatabaseTarget(
            DatabaseName.health,
            settings.resolved_database_url,
            "alembic_version",
            Base.metadata,
            HEALTH.head_revision(settings),
            migrate_health,
        )
    }
    if auth_settings is not None:
        auth = auth_settings

        async def migrate_auth(url: str) -> None:
            await AUTH.upgrade(auth.model_copy(update={"database_url": url}))

        targets[DatabaseName.auth] = DatabaseTarget(
            DatabaseName.auth,
            auth.resolved_database_url,
            AUTH.version_table,
            AuthBase.metadata,
            AUTH.head_revision(auth),
            migrate_auth,
        )
    return targets


@asynccontextmanager
async def open_engine(url: str, *, autocommit: bool = False) -> AsyncIterator[AsyncEngine]:
    """A short-lived engine without a pool (backup commands hold one connection at a time)."""
    options: dict[str, object] = {"poolclass": NullPool}
    if autocommit:
        options["isolation_level"] = "AUTOCOMMIT"
    engine = create_async_engine(url, **options)
    try:
        yield engine
    finally:
        await engine.dispose()


async def table_names(conn: AsyncConnection) -> list[str]:
    def names(sync: Connection) -> list[str]:
        return sorted(inspect(sync).get_table_names())

    return await conn.run_sync(names)


async def row_counts(conn: AsyncConnection) -> dict[str, int]:
    """Rows of every table of the database (not only the mapped ones)."""
    counts = {}
    for name in await table_names(conn):
        counts[name] = int(
            (await conn.execute(select(func.count()).select_from(table(name)))).scalar_one()
        )
    return counts


async def revision(conn: AsyncConnection, version_table: str) -> str | None:
    def current(sync: Connection) -> str | None:
        context = MigrationContext.configure(sync, opts={"version_table": version_table})
        return context.get_current_revision()

    return await conn.run_sync(current)


async def sample_reads(conn: AsyncConnection, metadata: MetaData) -> dict[str, int]:
    """Read a few rows of every mapped table through its column types (JSON, UUID, UTC
    datetimes are decoded): a table that exists but cannot be read fails here."""
    read = {}
    for mapped in metadata.sorted_tables:
        rows = (await conn.execute(select(mapped).limit(SAMPLE_ROWS))).all()
        read[mapped.name] = len(rows)
    return read


async def server_version(conn: AsyncConnection) -> str:
    if conn.dialect.name == "postgresql":
        return str((await conn.exec_driver_sql("SHOW server_version")).scalar_one())
    return "sqlite " + str((await conn.exec_driver_sql("SELECT sqlite_version()")).scalar_one())


@asynccontextmanager
async def _admin(target: DatabaseTarget, maintenance: str) -> AsyncIterator[AsyncConnection]:
    """An autocommit connection to the server's maintenance database."""
    async with (
        open_engine(target.url_for(maintenance), autocommit=True) as engine,
        engine.connect() as conn,
    ):
        yield conn


async def database_exists(target: DatabaseTarget, maintenance: str, name: str) -> bool:
    async with _admin(target, maintenance) as conn:
        found = await conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
        return found.first() is not None


async def create_database(target: DatabaseTarget, maintenance: str, name: str) -> None:
    async with _admin(target, maintenance) as conn:
        quoted = conn.dialect.identifier_preparer.quote(name)
        await conn.exec_driver_sql(f"CREATE DATABASE {quoted}")


async def drop_database(target: DatabaseTarget, maintenance: str, name: str) -> None:
    async with _admin(target, maintenance) as conn:
        quoted = conn.dialect.identifier_preparer.quote(name)
        await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
