"""Run the auth database's Alembic migrations from code (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from healthplatform.auth.db import create_auth_engine
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import read_revision, run_upgrade

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "auth_alembic_version"
AUTH_LOCK_ID = 7202612  # the health database uses HEALTH_LOCK_ID


def alembic_config(settings: AuthSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def head_revision(settings: AuthSettings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


async def upgrade(settings: AuthSettings, revision: str = "head") -> None:
    """Upgrade the auth database to ``revision`` (safe to run from several pods)."""
    engine = create_auth_engine(settings, application_name="healthplatform-auth-migrate")
    await run_upgrade(engine, alembic_config(settings), revision, AUTH_LOCK_ID)


async def current_revision(settings: AuthSettings) -> str | None:
    engine = create_auth_engine(settings, application_name="healthplatform-auth-migrate")
    return await read_revision(engine, VERSION_TABLE)


def upgrade_sync(settings: AuthSettings, revision: str = "head") -> None:
    asyncio.run(upgrade(settings, revision))
