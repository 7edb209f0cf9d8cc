"""Run Alembic migrations from code (`healthplatform migrate`), no alembic.ini needed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from healthplatform.db.engine import create_engine
from healthplatform.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


async def upgrade(settings: Settings, revision: str = "head") -> None:
    """Upgrade the database to ``revision``; safe to run concurrently on PostgreSQL
    (an advisory lock serialises migrators)."""
    engine = create_engine(settings, application_name="healthplatform-migrate")
    config = alembic_config(settings)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7202611)")

            def run(sync_conn: object) -> None:
                config.attributes["connection"] = sync_conn
                command.upgrade(config, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def current_revision(settings: Settings) -> str | None:
    engine = create_engine(settings, application_name="healthplatform-migrate")
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    finally:
        await engine.dispose()


def upgrade_sync(settings: Settings, revision: str = "head") -> None:
    asyncio.run(upgrade(settings, revision))
