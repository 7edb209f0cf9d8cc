"""Every statement that writes the uploads table, and the status lifecycle it follows.

Functions take the caller's connection (its transaction, or autocommit mode on a hot
path). A status changes only through :func:`_move`, which allows exactly the moves of
:data:`TRANSITIONS`; no other module inserts, updates or deletes upload rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.db import driver
from healthplatform.db.models import OutboxEvent, Upload, UploadStatus
from healthplatform.events.outbox import UPLOAD_RECEIVED, outbox_row

Q, P, C, F, X = UploadStatus  # queued, processing, completed, failed, quarantined
TRANSITIONS: dict[UploadStatus, frozenset[UploadStatus]] = {
    # processing starts (claim, batch) or fails before it did; a restore queues again
    Q: frozenset({P, F, X, Q}),
    # redelivered (P), finished, or queued again by a restore or a forced reprocess
    P: frozenset({P, C, F, X, Q}),
    # retried by a redelivery (P), queued again by housekeeping or reprocess
    F: frozenset({P, Q}),
    C: frozenset({Q}),  # reprocess
    X: frozenset({Q}),  # reprocess
}
BUSY = (Q, P)
FINISHED = (C, F, X)
_TABLE = cast(Table, Upload.__table__)


@lru_cache(maxsize=32)
def sources(to: UploadStatus, among: frozenset[UploadStatus] | None = None) -> tuple[str, ...]:
    """The statuses an upload may move to ``to`` from (only those of ``among``, each of
    which must be allowed: a writer cannot widen the table)."""
    allowed = {s for s, targets in TRANSITIONS.items() if to in targets}
    if among is not None:
        if not among <= allowed:
            raise ValueError(f"not allowed: {sorted(among - allowed)} -> {to}")
        allowed = set(among)
    return tuple(sorted(s.value for s in allowed))


def _move(to: UploadStatus, among: Collection[UploadStatus] | None = None) -> Update:
    """``UPDATE uploads SET status = to`` for rows in a status that may move there."""
    statuses = sources(to, None if among is None else frozenset(among))
    # one status as ``=``: an IN list cannot be part of an executemany (``complete``)
    allowed = Upload.status == statuses[0] if len(statuses) == 1 else Upload.status.in_(statuses)
    return update(Upload).where(allowed).values(status=to.value)


async def transition(
    conn: AsyncConnection,
    ids: Collection[uuid.UUID],
    to: UploadStatus,
    *,
    among: Collection[UploadStatus] | None = None,
    **values: object,
) -> set[uuid.UUID]:
    """Move these uploads to ``to`` (from ``among``, default every allowed status), with
    ``values``; the ids that moved."""
    if not ids:
        return set()
    rows = await conn.execute(
        _move(to, among)
        .where(Upload.id.in_(list(ids)))
        .values({"updated_at": datetime.now(UTC), **values})
        .returning(Upload.id)
    )
    return set(rows.scalars())


# --- accepting -----------------------------------------------------------------------------


def row_of(upload: Upload) -> dict[str, object]:
    """Every column of an (unsaved) upload, for a Core ``INSERT``."""
    return {c.key: getattr(upload, c.key) for c in _TABLE.columns}


def upload_event(
    upload: Any, *, accepted_at: datetime | None = None, **extra: object
) -> dict[str, object]:
    """Payload of the ``upload.received`` event, from an upload row (ORM object or Core
    row); also written when an upload is queued again (``extra`` says why)."""
    moment = accepted_at or upload.created_at
    return {
        "upload_id": str(upload.id),
        "user_id": upload.user_id,
        "object_key": upload.object_key,
        "record_type": upload.record_type,
        "sha256": upload.sha256,
        "record_count": upload.record_count,
        "accepted_at": moment.isoformat(),
        **extra,
    }


async def insert_with_event(
    conn: AsyncConnection, row: dict[str, Any], event: dict[str, Any]
) -> bool:
    """The upload row (``queued``) and its outbox event, atomically; False when the person
    already has an upload of these bytes. On PostgreSQL one statement run on the driver
    outside a transaction (commits by itself: one round trip); elsewhere two statements in
    the caller's transaction, which the caller commits."""
    if row["status"] != Q.value:
        raise ValueError("an upload starts queued")
    if conn.dialect.name == "postgresql":
        params = {f"u_{k}": v for k, v in row.items()} | {f"e_{k}": v for k, v in event.items()}
        statement = _upload_and_event(tuple(row), tuple(event), conn.dialect)
        return await driver.fetchrow(conn, statement, params) is not None
    new = await conn.execute(
        sqlite.insert(Upload).values(row).on_conflict_do_nothing().returning(Upload.id)
    )
    if new.first() is None:
        return False
    await conn.execute(insert(OutboxEvent), [event])
    return True


@lru_cache(maxsize=4)
def _upload_and_event(
    upload_columns: tuple[str, ...], event_columns: tuple[str, ...], dialect: Dialect
) -> driver.DriverStatement:
    """``WITH new_upload AS (INSERT INTO uploads ... ON CONFLICT DO NOTHING RETURNING id)
    INSERT INTO outbox_events ... SELECT ... FROM new_upload RETURNING id``: the event is
    written only with a new upload. Parameters are named ``u_*`` and ``e_*``; compiled
    once and run on the asyncpg driver (see :mod:`healthplatform.db.driver`)."""
    events = cast(Table, OutboxEvent.__table__)
    new_upload = (
        postgresql.insert(_TABLE)
        .values({c: bindparam(f"u_{c}", type_=_TABLE.c[c].type) for c in upload_columns})
        .on_conflict_do_nothing()
        .returning(_TABLE.c.id)
        .cte("new_upload")
    )
    event_values = select(
        *(bindparam(f"e_{c}", type_=events.c[c].type) for c in event_columns)
    ).select_from(new_upload)
    statement = insert(events).from_select(list(event_columns), event_values).returning(events.c.id)
    return driver.DriverStatement(statement, dialect)


async def add_received_events(
    conn: AsyncConnection,
    uploads: Sequence[Any],
    *,
    accepted_at: datetime | None = None,
    **extra: object,
) -> None:
    """An ``upload.received`` event for each of ``uploads``, one statement each: the ids
    follow the given order (the worker's processing order) on every backend."""
    for upload in uploads:
        payload = upload_event(upload, accepted_at=accepted_at, **extra)
        await conn.execute(insert(OutboxEvent), [outbox_row(UPLOAD_RECEIVED, payload)])


# --- reading ---------------------------------------------------------------------------------


async def by_sha(conn: AsyncConnection, user_id: str, sha256: str) -> Upload | None:
    """The person's upload of these bytes."""
    return await _one(conn, Upload.user_id == user_id, Upload.sha256 == sha256)


async def for_user(conn: AsyncConnection, user_id: str, upload_id: uuid.UUID) -> Upload | None:
    return await _one(conn, Upload.id == upload_id, Upload.user_id == user_id)


async def _one(conn: AsyncConnection, *conditions: Any) -> Upload | None:
    row = (await conn.execute(select(_TABLE).where(*conditions))).mappings().first()
    return Upload(**row) if row is not None else None


async def page(
    conn: AsyncConnection, conditions: Sequence[Any], limit: int, offset: int
) -> tuple[list[Upload], int]:
    """The uploads matching ``conditions``, newest first, and how many match."""
    query = select(_TABLE).where(*conditions)
    total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await conn.execute(
        query.order_by(Upload.created_at.desc(), Upload.id).limit(limit).offset(offset)
    )
    return [Upload(**row) for row in rows.mappings()], int(total)


async def owner(conn: AsyncConnection, upload_id: uuid.UUID) -> str | None:
    """Whose upload this is (None: gone)."""
    found = await conn.execute(select(Upload.user_id).where(Upload.id == upload_id))
    return found.scalar_one_or_none()


async def of_user(conn: AsyncConnection, user_id: str) -> Sequence[Any]:
    """The person's uploads (what their events need, and the status), oldest first."""
    return await _listed(conn, Upload.user_id == user_id)


async def unfinished(conn: AsyncConnection) -> Sequence[Any]:
    """Every queued or processing upload, as :func:`of_user`."""
    return await _listed(conn, Upload.status.in_([s.value for s in BUSY]))


async def _listed(conn: AsyncConnection, condition: Any) -> Sequence[Any]:
    columns = ("id", "user_id", "object_key", "record_type", "sha256", "record_count", "status")
    query = select(*(_TABLE.c[c] for c in columns)).where(condition)
    return (await conn.execute(query.order_by(Upload.created_at, Upload.id))).all()


async def referenced(conn: AsyncConnection, keys: Sequence[str]) -> set[str]:
    """Those of the object ``keys`` an upload row names."""
    found = await conn.execute(select(Upload.object_key).where(Upload.object_key.in_(keys)))
    return set(found.scalars())


# --- processing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """An upload the worker has just moved to ``processing``."""

    id: uuid.UUID
    user_id: str
    record_type: str
    object_key: str


async def claim(conn: AsyncConnection, upload_id: uuid.UUID) -> Claimed | None:
    """Move the upload to ``processing`` (one more attempt) in a single statement (the
    caller runs it in autocommit mode: one round trip); None when it is gone (erased) or
    finished (completed or quarantined)."""
    now = datetime.now(UTC)
    row = (
        await conn.execute(
            _move(P, (Q, P, F))
            .where(Upload.id == upload_id)
            .values(
                processing_started_at=now, updated_at=now, attempts=Upload.attempts + 1, error=None
            )
            .returning(Upload.user_id, Upload.record_type, Upload.object_key)
        )
    ).one_or_none()
    return None if row is None else Claimed(upload_id, *row)


async def queued_of(
    conn: AsyncConnection, user_id: str, other_than: uuid.UUID, limit: int
) -> list[Claimed]:
    """The person's queued uploads but ``other_than``, oldest first (not claimed yet)."""
    rows = await conn.execute(
        select(Upload.id, Upload.record_type, Upload.object_key)
        .where(Upload.user_id == user_id, Upload.status == Q.value, Upload.id != other_than)
        .order_by(Upload.created_at, Upload.id)
        .limit(limit)
    )
    return [Claimed(upload_id, user_id, kind, key) for upload_id, kind, key in rows]


async def take_queued(conn: AsyncConnection, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Move these queued uploads to ``processing`` (the caller's transaction); the ids it
    took (one another worker claimed meanwhile is not taken)."""
    if not ids:
        return set()
    now = datetime.now(UTC)
    rows = await conn.execute(
        _move(P, (Q,))
        .where(Upload.id.in_(list(ids)))
        .values(processing_started_at=now, updated_at=now, attempts=Upload.attempts + 1)
        .returning(Upload.id)
    )
    return set(rows.scalars())


async def still_processing(conn: AsyncConnection, upload_id: uuid.UUID) -> bool:
    """Touch the upload if it is still ``processing`` (not erased since its claim): the
    first write of the locked unit of work, which on SQLite takes the write lock."""
    touched = await conn.execute(
        _move(P, (P,)).where(Upload.id == upload_id).values(updated_at=datetime.now(UTC))
    )
    return bool(getattr(touched, "rowcount", 1))


async def complete(conn: AsyncConnection, done: Sequence[dict[str, Any]]) -> None:
    """Set processing uploads ``completed`` with their narrative preview and processing
    report (``done``: upload_id, preview, report), in one statement."""
    if not done:
        return
    now = datetime.now(UTC)
    await conn.execute(
        _move(C, (P,))
        .where(Upload.id == bindparam("done_id"))
        .values(
            finished_at=now,
            updated_at=now,
            narrative_preview=bindparam("done_preview"),
            report=bindparam("done_report"),
            error=None,
        ),
        [
            {"done_id": d["upload_id"], "done_preview": d["preview"], "done_report": d["report"]}
            for d in done
        ],
    )


async def mark_failed(
    conn: AsyncConnection, upload_id: uuid.UUID, error: str, *, quarantine: bool = False
) -> bool:
    """``failed`` (or ``quarantined``) with the error, if it was queued or processing."""
    values = {"finished_at": datetime.now(UTC), "error": error[:2000]}
    return bool(await transition(conn, [upload_id], X if quarantine else F, among=BUSY, **values))


# --- queueing again -------------------------------------------------------------------------

_RESULTS = ("processing_started_at", "finished_at", "error", "narrative_preview", "report")


async def requeue(
    conn: AsyncConnection, uploads: Sequence[Any], among: Collection[UploadStatus], reason: str
) -> int:
    """Set those of ``uploads`` in a status of ``among`` back to ``queued``, their results
    cleared, with a new event each in the given order (the caller's transaction); how many."""
    now, ids = datetime.now(UTC), [u.id for u in uploads]
    moved = await transition(conn, ids, Q, among=among, updated_at=now, **dict.fromkeys(_RESULTS))
    again = [u for u in uploads if u.id in moved]
    await add_received_events(conn, again, accepted_at=now, reason=reason)
    return len(again)


async def requeue_stale(conn: AsyncConnection, before: datetime, limit: int) -> Sequence[Any]:
    """Queued or processing uploads unchanged since ``before`` (oldest first, rows another
    transaction holds skipped): touched (so each comes up once per period) and returned
    with a new event each."""
    busy = [s.value for s in BUSY]
    stale = await _locked(conn, limit, Upload.status.in_(busy), Upload.updated_at < before)
    if stale:
        await conn.execute(
            update(Upload)
            .where(Upload.id.in_([u.id for u in stale]))
            .values(updated_at=datetime.now(UTC))
        )
        await add_received_events(conn, stale, requeued=True)
    return stale


async def requeue_failed(
    conn: AsyncConnection, error_prefix: str, before: datetime, since: datetime, limit: int
) -> Sequence[Any]:
    """Failed uploads whose error starts with ``error_prefix``, unchanged since ``before``
    and created after ``since`` (oldest first, held rows skipped): queued again (the error
    kept) with a new event each."""
    failed = await _locked(
        conn,
        limit,
        Upload.status == F.value,
        Upload.error.startswith(error_prefix, autoescape=True),
        Upload.updated_at < before,
        Upload.created_at > since,
    )
    await transition(conn, [u.id for u in failed], Q, among=(F,), finished_at=None)
    await add_received_events(conn, failed, requeued=True)
    return failed


async def _locked(conn: AsyncConnection, limit: int, *conditions: Any) -> Sequence[Any]:
    """Up to ``limit`` rows matching, oldest first, locked (rows held elsewhere skipped)."""
    query = select(_TABLE).where(*conditions).order_by(Upload.created_at).limit(limit)
    return (await conn.execute(query.with_for_update(skip_locked=True))).all()


# --- a person's uploads ------------------------------------------------------------------------


async def hold_for_writing(conn: AsyncConnection, user_id: str) -> None:
    """Take SQLite's write lock up front (a write that changes nothing; PostgreSQL callers
    take the person's advisory lock instead)."""
    await conn.execute(
        update(Upload).where(Upload.user_id == user_id).values(updated_at=Upload.updated_at)
    )


async def delete_of_user(conn: AsyncConnection, user_id: str) -> int:
    """Delete every upload row of the person (erasure); how many."""
    result = await conn.execute(delete(Upload).where(Upload.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)
