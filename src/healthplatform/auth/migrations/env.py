"""Alembic environment of the auth database: own metadata and version table
(``auth_alembic_version``), URL from :class:`AuthSettings`."""

from __future__ import annotations

from healthplatform.auth.db import create_auth_engine
from healthplatform.auth.migrate import VERSION_TABLE
from healthplatform.auth.models import AuthBase
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.alembic_env import run_environment

run_environment(
    AuthBase.metadata,
    lambda settings: create_auth_engine(
        settings if isinstance(settings, AuthSettings) else AuthSettings(),
        application_name="healthplatform-auth-migrate",
    ),
    version_table=VERSION_TABLE,
)
