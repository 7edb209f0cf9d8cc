"""Run the Alembic migrations of either database from code (`healthplatform migrate`), no
alembic.ini needed: :data:`HEALTH` and :data:`AUTH` say where each one's migrations, version
table and engine are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.db.engine import DatabaseSettings, create_auth_engine, create_engine
from healthplatform.settings import Settings

PACKAGE = Path(__file__).resolve().parents[1]
S = TypeVar("S", bound=DatabaseSettings)


@dataclass(frozen=True)
class Database(Generic[S]):
    """One database: its migrations folder, Alembic version table, the PostgreSQL advisory
    lock that serialises concurrent migrators, and its engine (URL from settings ``S``)."""

    name: str
    migrations: Path
    version_table: str
    lock_id: int
    engine: Callable[[S, str], AsyncEngine]
    application_name: str  # of the migrating connections

    def alembic_config(self, settings: S) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.migrations))
        config.attributes["settings"] = settings
        return config

    def head_revision(self, settings: S) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config(settings)).get_current_head()

    def migration_engine(self, settings: S) -> AsyncEngine:
        return self.engine(settings, self.application_name)

    async def upgrade(self, settings: S, revision: str = "head") -> None:
        """Upgrade to ``revision`` (safe to run from several pods) and dispose of the engine;
        concurrent migrators on PostgreSQL are serialised by the advisory lock."""
        config = self.alembic_config(settings)
        engine = self.migration_engine(settings)
        try:
            async with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:id)"), {"id": self.lock_id}
                    )

                def run(sync_conn: object) -> None:
                    config.attributes["connection"] = sync_conn
                    command.upgrade(config, revision)

                await conn.run_sync(run)
        finally:
            await engine.dispose()

    async def current_revision(self, settings: S) -> str | None:
        """The revision the database is at (None before the first migration)."""
        engine = self.migration_engine(settings)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: MigrationContext.configure(
                        c, opts={"version_table": self.version_table}
                    ).get_current_revision()
                )
        finally:
            await engine.dispose()


def _health_engine(settings: Settings, application_name: str) -> AsyncEngine:
    return create_engine(settings, application_name=application_name)


def _auth_engine(settings: DatabaseSettings, application_name: str) -> AsyncEngine:
    return create_auth_engine(settings, application_name=application_name)


HEALTH: Database[Settings] = Database(
    "health",
    PACKAGE / "db" / "migrations",
    "alembic_version",
    7202611,
    _health_engine,
    "healthplatform-migrate",
)
AUTH: Database[DatabaseSettings] = Database(
    "auth",
    PACKAGE / "auth" / "migrations",
    "auth_alembic_version",
    7202612,
    _auth_engine,
    "healthplatform-auth-migrate",
)
