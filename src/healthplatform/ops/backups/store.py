"""The backup store (a second object store) and the layout of its keys.

<prefix><db>/<kind>/<timestamp>.dump            the dump (pg_dump -Fc, or a SQLite file)
<prefix><db>/<kind>/<timestamp>.objects.gz      health: the raw objects the dump references
<prefix><db>/<kind>/<timestamp>.manifest.json   written last: a backup without one is
                                                incomplete and is never restored
<prefix>raw/<data lake key>                     copies of the raw uploads
<prefix>status.json                             last results, for the metrics
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum

from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.settings import ObjectStoreKind, Settings
from healthplatform.storage.base import ObjectStore

DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".manifest.json"
OBJECTS_SUFFIX = ".objects.gz"
STAMP_FORMAT = "%Y%m%dT%H%M%S"


class DatabaseName(StrEnum):
    health = "health"
    auth = "auth"


class Kind(StrEnum):
    daily = "daily"
    weekly = "weekly"


def create_backup_store(settings: Settings, backup: BackupSettings) -> ObjectStore:
    """The backup store: the data lake's kind, endpoint and credentials unless overridden."""
    # imported here: every `healthplatform` command imports this module for its names
    from healthplatform.storage.local import LocalObjectStore
    from healthplatform.storage.s3 import S3ObjectStore

    kind = backup.object_store or settings.object_store
    if kind is ObjectStoreKind.s3:
        return S3ObjectStore(
            bucket=backup.bucket or settings.s3_bucket,
            endpoint_url=backup.s3_endpoint_url or settings.s3_endpoint_url,
            region=backup.s3_region or settings.s3_region,
            access_key_id=(
                backup.s3_access_key_id.get_secret_value()
                or settings.s3_access_key_id.get_secret_value()
            ),
            secret_access_key=(
                backup.s3_secret_access_key.get_secret_value()
                or settings.s3_secret_access_key.get_secret_value()
            ),
            timeout=backup.s3_timeout_seconds,
            max_connections=backup.copy_concurrency * 2,
        )
    return LocalObjectStore((backup.path or settings.data_dir / "backup-store").resolve())


@asynccontextmanager
async def open_backup_store(
    settings: Settings, backup: BackupSettings
) -> AsyncIterator[ObjectStore]:
    """The started backup store, closed on exit."""
    store = create_backup_store(settings, backup)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


def stamp(moment: datetime) -> str:
    """Sortable UTC timestamp used in keys: ``20261126T021500.123Z``."""
    moment = moment.astimezone(UTC)
    return f"{moment:{STAMP_FORMAT}}.{moment.microsecond // 1000:03d}Z"


def parse_stamp(text: str) -> datetime:
    base, _, rest = text.partition(".")
    millis = int(rest.rstrip("Z") or 0)
    return datetime.strptime(base, STAMP_FORMAT).replace(tzinfo=UTC, microsecond=millis * 1000)


def backup_folder(prefix: str, database: str, kind: str) -> str:
    return f"{prefix}{database}/{kind}/"


def dump_key(prefix: str, database: str, kind: str, moment: datetime) -> str:
    return f"{backup_folder(prefix, database, kind)}{stamp(moment)}{DUMP_SUFFIX}"


def manifest_key_for(dump: str) -> str:
    return dump.removesuffix(DUMP_SUFFIX) + MANIFEST_SUFFIX


def objects_key_for(dump: str) -> str:
    """Key of the list of raw objects a health dump references (gzip, one key a line)."""
    return dump.removesuffix(DUMP_SUFFIX) + OBJECTS_SUFFIX


def raw_copy_key(prefix: str, lake_key: str) -> str:
    """Backup key of a data lake object (same content-addressed path under the prefix)."""
    return f"{prefix}{lake_key}"


def status_key(prefix: str) -> str:
    return f"{prefix}status.json"
