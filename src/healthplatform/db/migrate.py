"""Run Alembic migrations from code (`healthplatform migrate`), no alembic.ini needed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.db.engine import create_engine
from healthplatform.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
HEALTH_LOCK_ID = 7202611


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


async def run_upgrade(engine: AsyncEngine, config: Config, revision: str, lock_id: int) -> None:
    """Upgrade through ``engine`` and dispose of it; concurrent migrators on PostgreSQL are
    serialised by an advisory lock (one id per database)."""
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})

            def run(sync_conn: object) -> None:
                config.attributes["connection"] = sync_conn
                command.upgrade(config, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def read_revision(engine: AsyncEngine, version_table: str = "alembic_version") -> str | None:
    """The revision the database is at (None before the first migration); disposes."""
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(
                    c, opts={"version_table": version_table}
                ).get_current_revision()
            )
    finally:
        await engine.dispose()


async def upgrade(settings: Settings, revision: str = "head") -> None:
    """Upgrade the health database to ``revision`` (safe to run from several pods)."""
    engine = create_engine(settings, application_name="healthplatform-migrate")
    await run_upgrade(engine, alembic_config(settings), revision, HEALTH_LOCK_ID)


async def current_revision(settings: Settings) -> str | None:
    return await read_revision(create_engine(settings, application_name="healthplatform-migrate"))


def upgrade_sync(settings: Settings, revision: str = "head") -> None:
    asyncio.run(upgrade(settings, revision))
