"""`healthplatform reprocess`: rebuild derived data from the raw uploads.

Per user, in one transaction holding the user's processing lock: delete the derived rows
(observations, daily metrics, narratives) and the training examples, set every upload back
to ``queued`` and write one new ``upload.received`` outbox event per upload, in upload
order. The ETL worker then rebuilds everything. Only uploads that still exist are queued,
so an erased user's data stays erased; running it again gives the same result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, union, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from healthplatform.db.models import DailyMetrics, Narrative, OutboxEvent, Upload, UploadStatus
from healthplatform.db.models import Observation as ObservationRow
from healthplatform.etl import repository as etl_repository
from healthplatform.etl.training import TRAINING_PREFIX
from healthplatform.events.outbox import UPLOAD_RECEIVED, outbox_row
from healthplatform.storage import ObjectStore
from healthplatform.uploads.service import upload_event

log = logging.getLogger(__name__)
BUSY = (UploadStatus.queued.value, UploadStatus.processing.value)
ATTEMPTS = 5


@dataclass(frozen=True)
class UserResult:
    user: str
    uploads: int = 0
    derived_rows: int = 0
    training_objects: int = 0
    busy: int = 0  # uploads still queued/processing: skipped unless forced

    @property
    def skipped(self) -> bool:
        return self.busy > 0 and self.uploads == 0


UPLOAD_COLUMNS = (
    Upload.id,
    Upload.user_id,
    Upload.object_key,
    Upload.record_type,
    Upload.sha256,
    Upload.record_count,
    Upload.status,
)


async def requeue(conn: AsyncConnection, uploads: Sequence[Any], reason: str) -> int:
    """Set ``uploads`` back to ``queued`` and write one outbox event each, in the given
    order (the worker's processing order), inside the caller's transaction."""
    if not uploads:
        return 0
    now = datetime.now(UTC)
    await conn.execute(
        update(Upload)
        .where(Upload.id.in_([u.id for u in uploads]))
        .values(
            status=UploadStatus.queued.value,
            updated_at=now,
            processing_started_at=None,
            finished_at=None,
            error=None,
            narrative_preview=None,
            report=None,
        )
    )
    events = [
        outbox_row(UPLOAD_RECEIVED, upload_event(u, accepted_at=now, reason=reason))
        for u in uploads
    ]
    for event in events:  # one statement each: ids follow the upload order on every backend
        await conn.execute(insert(OutboxEvent), [event])
    return len(uploads)


async def lock_user(conn: AsyncConnection, user: str) -> None:
    """Wait for the user's in-flight ETL work and keep the worker out until commit
    (PostgreSQL: the worker's advisory lock; SQLite: take the write lock up front)."""
    if conn.dialect.name == "sqlite":
        await conn.execute(
            update(Upload).where(Upload.user_id == user).values(updated_at=Upload.updated_at)
        )
    else:
        await etl_repository.lock_user(conn, user)


async def user_uploads(conn: AsyncConnection, user: str) -> Sequence[Any]:
    query = (
        select(*UPLOAD_COLUMNS).where(Upload.user_id == user).order_by(Upload.created_at, Upload.id)
    )
    return (await conn.execute(query)).all()


async def _reprocess_once(
    engine: AsyncEngine, store: ObjectStore, user: str, force: bool
) -> UserResult:
    async with engine.begin() as conn:
        await lock_user(conn, user)
        uploads = await user_uploads(conn, user)
        busy = sum(u.status in BUSY for u in uploads)
        if busy and not force:
            return UserResult(user, busy=busy)
        derived = await etl_repository.delete_derived(conn, user)
        queued = await requeue(conn, uploads, "reprocess")
        # objects are not transactional: deleted last, still under the lock; if the commit
        # fails the rows stay and a second run deletes them again
        training = await store.delete_prefix(f"{TRAINING_PREFIX}/{user}/")
    return UserResult(user, queued, derived, training, busy)


async def reprocess_user(
    engine: AsyncEngine, store: ObjectStore, user: str, *, force: bool = False
) -> UserResult:
    """Reprocess one user (opaque user key); retried when PostgreSQL picks this transaction
    as the victim of a deadlock with the worker (row lock vs. user lock)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _reprocess_once(engine, store, user, force)
        except DBAPIError as exc:
            if "deadlock" not in str(exc).lower() or attempt == ATTEMPTS:
                raise
            log.info("reprocess deadlock, retrying", extra={"user_id": user})
            await asyncio.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


async def all_users(engine: AsyncEngine, store: ObjectStore) -> list[str]:
    """Every user with uploads, derived rows or training examples."""
    query = union(*(select(m.user_id) for m in (Upload, ObservationRow, DailyMetrics, Narrative)))
    async with engine.connect() as conn:
        users = {str(u) for u in (await conn.execute(query)).scalars()}
    async for info in store.list(f"{TRAINING_PREFIX}/"):
        users.add(info.key.split("/")[1])
    return sorted(users)


async def reprocess(
    engine: AsyncEngine,
    store: ObjectStore,
    users: Sequence[str],
    *,
    force: bool = False,
    advance: Callable[[UserResult], None] | None = None,
) -> list[UserResult]:
    """Reprocess ``users`` (opaque user keys) one after the other."""
    results = []
    for user in users:
        result = await reprocess_user(engine, store, user, force=force)
        results.append(result)
        if advance:
            advance(result)
    return results
