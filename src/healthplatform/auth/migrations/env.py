"""Alembic environment of the auth database: own metadata and version table
(``auth_alembic_version``), URL from :class:`AuthSettings`, run on the async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from healthplatform.auth.db import create_auth_engine
from healthplatform.auth.models import AuthBase
from healthplatform.auth.settings import AuthSettings

VERSION_TABLE = "auth_alembic_version"
config = context.config
target_metadata = AuthBase.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    settings = config.attributes.get("settings") or AuthSettings()
    engine = create_auth_engine(settings, application_name="healthplatform-auth-migrate")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run the auth migrate command")
connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
