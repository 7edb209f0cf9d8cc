"""The erasure log: whose data was erased and when, kept outside the backups.

A backup taken before a person's erasure still holds their data; restoring it would bring
it back. So every erasure first writes an entry here, and every restore applies the log
to what it restored (:func:`apply`), before anything else reads the restored data.

Where: one object per erasure, ``erasure-log/<user key>/<UTC stamp>.json``, in the bucket
``HP_ERASURE_LOG_BUCKET`` (production: a bucket of its own that the API may only add
objects to and that no backup, rotation or lake loss touches), or, when that is empty,
in the data lake under the same prefix (local runs). Backups copy only the raw uploads
their rows reference, so the log is never inside a backup; a restore never overwrites
it. An entry holds the pseudonymous user key and the time, nothing else.

Which entries a restore applies: those of people erased after the backup was taken, with
a margin (:data:`MARGIN`) for a backup that was being taken while the erasure ran. The
whole person is removed from the restored data: every row with their key, their raw
uploads and training examples in the lake and their raw copies in the backup store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, delete, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.db.models import Base, OutboxEvent, Upload
from healthplatform.settings import ObjectStoreKind, Settings
from healthplatform.storage import ObjectStore, create_object_store
from healthplatform.storage.layout import ERASURE_LOG_PREFIX, person_prefixes
from healthplatform.uploads import repository as uploads

MARGIN = timedelta(minutes=10)  # longer than any erasure takes
_STAMP = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True)
class Erasure:
    user_id: str
    erased_at: datetime

    @property
    def key(self) -> str:
        return f"{ERASURE_LOG_PREFIX}{self.user_id}/{self.erased_at.strftime(_STAMP)}.json"


@dataclass
class Applied:
    people: int = 0
    rows: int = 0
    objects: int = 0
    backup_copies: int = 0

    def __str__(self) -> str:
        return (
            f"{self.people} people erased since the backup removed again ({self.rows} rows, "
            f"{self.objects} lake objects, {self.backup_copies} raw copies in the backups)"
        )


@asynccontextmanager
async def open_log(
    settings: Settings, lake: ObjectStore | None = None
) -> AsyncIterator[ObjectStore]:
    """The store that holds the log: its own bucket when configured, else the lake
    (``lake`` when the caller has it open)."""
    dedicated = settings.erasure_log_bucket and settings.object_store is ObjectStoreKind.s3
    if lake is not None and not dedicated:
        yield lake
        return
    update = {"s3_bucket": settings.erasure_log_bucket} if dedicated else {}
    store = create_object_store(settings.model_copy(update=update))
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def record(log: ObjectStore, user_id: str, moment: datetime | None = None) -> Erasure:
    """Write the entry (before anything is deleted: if this fails, nothing is)."""
    entry = Erasure(user_id, moment or datetime.now(UTC))
    body = {"user_id": entry.user_id, "erased_at": entry.erased_at.isoformat()}
    await log.put(entry.key, json.dumps(body).encode(), "application/json")
    return entry


async def read_all(log: ObjectStore) -> list[Erasure]:
    """Every entry, from the keys (no object needs to be read)."""
    entries = []
    async for info in log.list(ERASURE_LOG_PREFIX):
        parts = info.key[len(ERASURE_LOG_PREFIX) :].split("/")
        if len(parts) != 2 or not parts[1].endswith(".json"):
            continue
        try:
            moment = datetime.strptime(parts[1].removesuffix(".json"), _STAMP)
        except ValueError:
            continue
        entries.append(Erasure(parts[0], moment.replace(tzinfo=UTC)))
    return sorted(entries, key=lambda e: e.erased_at)


async def entries(settings: Settings, lake: ObjectStore | None = None) -> list[Erasure]:
    """Every entry of the configured log."""
    async with open_log(settings, lake) as log:
        return await read_all(log)


def due(entries: Iterable[Erasure], backup_started_at: datetime) -> set[str]:
    """The people a restore of a backup started at ``backup_started_at`` must remove."""
    return {e.user_id for e in entries if backup_started_at < e.erased_at + MARGIN}


def _person_tables() -> list[Table]:
    """Every table with a ``user_id`` column: a new one is covered without a change here."""
    return [t for t in Base.metadata.sorted_tables if "user_id" in t.c]


async def apply(
    engine: AsyncEngine,
    lake: ObjectStore,
    users: Iterable[str],
    *,
    backup_store: ObjectStore | None = None,
    backup_prefix: str = "",
) -> Applied:
    """Remove ``users`` from the database behind ``engine`` and from the lake (and their
    raw copies from the backup store). Idempotent."""
    people = sorted(set(users))
    result = Applied(people=len(people))
    if not people:
        return result
    async with engine.begin() as conn:
        present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        for table in reversed(_person_tables()):
            if table.name not in present:
                continue
            for user in people:
                if table.name == Upload.__tablename__:
                    result.rows += await uploads.delete_of_user(conn, user)
                    continue
                gone = await conn.execute(delete(table).where(table.c.user_id == user))
                result.rows += int(getattr(gone, "rowcount", 0) or 0)
        for user in people:  # events name the person's uploads, keys and hashes
            gone = await conn.execute(
                delete(OutboxEvent).where(OutboxEvent.payload["user_id"].as_string() == user)
            )
            result.rows += int(getattr(gone, "rowcount", 0) or 0)
    for user in people:
        for prefix in person_prefixes(user):
            result.objects += await lake.delete_prefix(prefix)
            if backup_store is not None:
                copies = f"{backup_prefix}{prefix}"
                result.backup_copies += await backup_store.delete_prefix(copies)
    return result
