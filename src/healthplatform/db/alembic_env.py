"""The body both Alembic environments share (health and auth databases): run migrations on
the connection `healthplatform migrate` hands over, or on a fresh async engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def run_environment(
    metadata: MetaData,
    make_engine: Callable[[object | None], AsyncEngine],
    version_table: str = "alembic_version",
) -> None:
    """``make_engine`` gets the settings object passed in ``config.attributes`` (or None)."""
    config = context.config

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = make_engine(config.attributes.get("settings"))
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        raise SystemExit("offline migrations are not supported; run `healthplatform migrate`")
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
    else:
        asyncio.run(run_async())
