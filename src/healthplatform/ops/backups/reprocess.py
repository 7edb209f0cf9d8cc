"""`healthplatform reprocess`: rebuild derived data from the raw uploads.

Per user, in one transaction holding the user's processing lock: delete the derived rows
(observations, daily metrics, narratives) and the training examples, set every finished
upload back to ``queued`` (the busy ones too when forced; else a user with busy uploads is
skipped) and write one new ``upload.received`` outbox event per upload, in upload order.
The ETL worker then rebuilds everything. Only uploads that still exist are queued, so an
erased user's data stays erased; running it again gives the same result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, union
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from healthplatform.db.models import DailyMetrics, Narrative, Upload
from healthplatform.db.models import Observation as ObservationRow
from healthplatform.etl import repository as etl_repository
from healthplatform.storage import ObjectStore
from healthplatform.storage.layout import TRAINING_PREFIX, training_prefix
from healthplatform.uploads import repository as uploads

log = logging.getLogger(__name__)
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


async def lock_user(conn: AsyncConnection, user: str) -> None:
    """Wait for the user's in-flight ETL work and keep the worker out until commit
    (PostgreSQL: the worker's advisory lock; SQLite: take the write lock up front)."""
    if conn.dialect.name == "sqlite":
        await uploads.hold_for_writing(conn, user)
    else:
        await etl_repository.lock_user(conn, user)


async def _reprocess_once(
    engine: AsyncEngine, store: ObjectStore, user: str, force: bool
) -> UserResult:
    async with engine.begin() as conn:
        await lock_user(conn, user)
        found = await uploads.of_user(conn, user)
        busy = sum(u.status in uploads.BUSY for u in found)
        if busy and not force:
            return UserResult(user, busy=busy)
        derived = await etl_repository.delete_derived(conn, user)
        resettable = uploads.FINISHED + (uploads.BUSY if force else ())
        queued = await uploads.requeue(conn, found, resettable, "reprocess")
        # objects are not transactional: deleted last, still under the lock; if the commit
        # fails the rows stay and a second run deletes them again
        training = await store.delete_prefix(training_prefix(user))
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
