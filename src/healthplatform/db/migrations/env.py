"""Alembic environment of the health database (URL from :class:`Settings`)."""

from __future__ import annotations

from healthplatform.db.alembic_env import run_environment
from healthplatform.db.migrate import HEALTH
from healthplatform.db.models import Base
from healthplatform.settings import Settings

run_environment(
    Base.metadata,
    lambda settings: HEALTH.migration_engine(
        settings if isinstance(settings, Settings) else Settings()
    ),
)
