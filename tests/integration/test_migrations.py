"""Both databases' migrations, on SQLite and on the real PostgreSQL: upgrading to head gives
exactly the schema the models declare (no drift), and every migration can be undone and
redone. A migration that forgets a column, an index or a downgrade step fails here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.auth.models import AuthBase
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.engine import create_auth_engine, create_engine
from healthplatform.db.migrate import AUTH, HEALTH
from healthplatform.db.models import Base
from healthplatform.settings import Settings
from tests.support import services


class Database:
    """One of the two databases: its models, migrations and how to open it."""

    def __init__(
        self,
        metadata: MetaData,
        config: Config,
        engine: Callable[[], AsyncEngine],
        version_table: str,
    ) -> None:
        self.metadata, self.config, self.engine = metadata, config, engine
        self.version_table = version_table

    async def alembic(self, action: Callable[[Config], None]) -> None:
        engine = self.engine()
        try:
            async with engine.begin() as conn:

                def run(sync_conn: object) -> None:
                    self.config.attributes["connection"] = sync_conn
                    action(self.config)

                await conn.run_sync(run)
        finally:
            await engine.dispose()

    async def drift(self) -> list[Any]:
        engine = self.engine()
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(
                            c, opts={"compare_type": True, "version_table": self.version_table}
                        ),
                        self.metadata,
                    )
                )
        finally:
            await engine.dispose()


def health(url: str, data_dir: Path) -> Database:
    settings = Settings(data_dir=data_dir, database_url=url)
    return Database(
        Base.metadata,
        HEALTH.alembic_config(settings),
        lambda: create_engine(settings, application_name="test-migrations"),
        "alembic_version",
    )


def auth(url: str, data_dir: Path) -> Database:
    settings = AuthSettings(data_dir=data_dir, database_url=url)
    return Database(
        AuthBase.metadata,
        AUTH.alembic_config(settings),
        lambda: create_auth_engine(settings, application_name="test-migrations"),
        AUTH.version_table,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if request.param == "sqlite":
        yield "", tmp_path
    else:
        with services.postgres_database() as url:
            yield url, tmp_path


@pytest.mark.parametrize("make", [health, auth], ids=["health", "auth"])
def test_migrations_match_the_models_and_run_both_ways(
    make: Callable[[str, Path], Database], backend: tuple[str, Path]
) -> None:
    db = make(*backend)

    async def scenario() -> None:
        await db.alembic(lambda c: command.upgrade(c, "head"))
        assert await db.drift() == [], "the migrations and the models disagree"
        await db.alembic(lambda c: command.downgrade(c, "base"))
        await db.alembic(lambda c: command.upgrade(c, "head"))
        assert await db.drift() == []

    asyncio.run(scenario())
