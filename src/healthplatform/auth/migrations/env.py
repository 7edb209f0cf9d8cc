"""Alembic environment of the auth database: own metadata and version table
(``auth_alembic_version``), URL from :class:`AuthSettings`."""

from __future__ import annotations

from healthplatform.auth.models import AuthBase
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.alembic_env import run_environment
from healthplatform.db.migrate import AUTH

run_environment(
    AuthBase.metadata,
    lambda settings: AUTH.migration_engine(
        settings if isinstance(settings, AuthSettings) else AuthSettings()
    ),
    version_table=AUTH.version_table,
)
