"""Periodic housekeeping of the auth database (a CronJob runs it, e.g. hourly): advance the
signing-key lifecycle, delete device sessions that ended long ago and the ids of sessions
deleted with their account once no token of them can be valid."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from healthplatform.auth import repository as repo
from healthplatform.auth.keys import (
    KeyEncryptor,
    RotationReport,
    resolve_key_encryption_key,
    rotate_keys,
)
from healthplatform.auth.models import utcnow
from healthplatform.auth.revocations import keep_seconds
from healthplatform.auth.settings import AuthSettings
from healthplatform.auth.usernames import refresh_skeletons
from healthplatform.db.engine import create_auth_engine, create_sessionmaker, transaction

log = logging.getLogger(__name__)
SESSION_GRACE = timedelta(days=7)  # ended sessions stay visible this long (audit)


@dataclass
class MaintenanceReport:
    keys: RotationReport
    sessions_deleted: int
    skeletons_updated: int = 0


async def run_maintenance(
    settings: AuthSettings, *, force_rotation: bool = False, now: datetime | None = None
) -> MaintenanceReport:
    now = now or utcnow()
    engine = create_auth_engine(settings, application_name="healthplatform-auth-maintenance")
    try:
        sessions = create_sessionmaker(engine)
        encryptor = KeyEncryptor(resolve_key_encryption_key(settings))
        keys = await rotate_keys(sessions, encryptor, settings, now=now, force=force_rotation)
        async with transaction(sessions) as session:
            deleted = await repo.purge_device_sessions(session, now, SESSION_GRACE)
            before = now - timedelta(seconds=keep_seconds(settings))
            deleted += await repo.purge_ended_sessions(session, before)
        async with transaction(sessions) as session:
            skeletons = await refresh_skeletons(session)
    finally:
        await engine.dispose()
    log.info(
        "auth maintenance",
        extra={
            "sessions_deleted": deleted,
            "skeletons_updated": skeletons,
            "keys": keys.__dict__,
        },
    )
    return MaintenanceReport(keys, deleted, skeletons)
