"""Run the auth database's Alembic migrations from code (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from healthplatform.auth.db import create_auth_engine
from healthplatform.auth.settings import AuthSettings

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "auth_alembic_version"
_ADVISORY_LOCK = 7202612  # the health database uses 7202611


def alembic_config(settings: AuthSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def head_revision(settings: AuthSettings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


async def upgrade(settings: AuthSettings, revision: str = "head") -> None:
    """Upgrade the auth database to ``revision``; safe to run concurrently on PostgreSQL
    (an advisory lock serialises migrators)."""
    engine = create_auth_engine(settings, application_name="healthplatform-auth-migrate")
    config = alembic_config(settings)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})")

            def run(sync_conn: object) -> None:
                config.attributes["connection"] = sync_conn
                command.upgrade(config, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def current_revision(settings: AuthSettings) -> str | None:
    engine = create_auth_engine(settings, application_name="healthplatform-auth-migrate")
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(
                    c, opts={"version_table": VERSION_TABLE}
                ).get_current_revision()
            )
    finally:
        await engine.dispose()


def upgrade_sync(settings: AuthSettings, revision: str = "head") -> None:
    asyncio.run(upgrade(settings, revision))
