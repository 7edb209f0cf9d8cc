"""Accepting uploads without ever losing one, and the status lifecycle.

Order of an upload: validate the whole file -> store the object under a content-addressed
key -> write the upload row *and* its outbox event atomically (one statement on PostgreSQL,
one transaction on SQLite). If that write fails, the object has no row and the orphan
sweeper deletes it after a grace period (a request never deletes an object itself: a
concurrent identical upload may own it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from healthplatform.core import metrics
from healthplatform.core.errors import (
    BadRequest,
    DependencyUnavailable,
    NotFound,
    Unprocessable,
    UnprocessableFile,
    UnsupportedMediaType,
)
from healthplatform.db import driver
from healthplatform.db.engine import autocommit, transaction
from healthplatform.db.models import OutboxEvent, Upload, UploadStatus
from healthplatform.events.outbox import UPLOAD_RECEIVED, outbox_row
from healthplatform.healthconnect.container import (
    AvroFileError,
    FileSummary,
    ReadLimits,
    inspect_file,
)
from healthplatform.healthconnect.registry import FILENAME_PATTERN
from healthplatform.runtime import Resources
from healthplatform.uploads.repository import UploadRepository

log = logging.getLogger(__name__)

RAW_PREFIX = "raw"
# Validation never runs on the event loop: a file's reading is bounded (item caps, a CPU
# budget) but can still take seconds; two threads of their own, so hostile files cannot
# take the default executor's threads (storage I/O) from everyone else.
_VALIDATION = ThreadPoolExecutor(max_workers=2, thread_name_prefix="avro-validate")


def user_key(subject: str) -> str:
    """Opaque, path-safe id of a user derived from the token subject (never user text)."""
    return hashlib.sha256(f"hp-user:{subject}".encode()).hexdigest()[:32]


def clean_filename(name: str) -> str:
    """Refuse names that could be paths or carry control characters; keep the rest."""
    if not name or len(name) > 255:
        raise BadRequest("file name missing or longer than 255 characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise BadRequest("file name contains control characters")
    if "/" in name or "\\" in name or ".." in name or name.startswith("."):
        raise BadRequest("file name must not contain path components")
    if not name.lower().endswith(".avro"):
        raise UnsupportedMediaType("file name must end with .avro")
    return name


def object_key(user: str, summary: FileSummary, sha256: str) -> str:
    day = (
        datetime.fromtimestamp(summary.data_start_ms / 1000, UTC).date()
        if summary.data_start_ms is not None
        else date(1970, 1, 1)
    )
    return f"{RAW_PREFIX}/{user}/{summary.record_type}/{day:%Y}/{day:%m}/{day:%d}/{sha256}.avro"


def _ms_to_dt(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class Accepted:
    upload: Upload
    duplicate: bool


def _inspect(data: bytes, limits: ReadLimits) -> tuple[FileSummary, str]:
    summary = inspect_file(
        data,
        max_decoded_bytes=limits.max_decoded_bytes,
        max_records=limits.max_records,
        limits=limits,
    )
    return summary, hashlib.sha256(data).hexdigest()


async def accept_upload(
    res: Resources, subject: str, filename: str, data: bytes, description: str | None = None
) -> Accepted:
    filename = clean_filename(filename)
    if description is not None and len(description) > 1000:
        raise BadRequest("description longer than 1000 characters")
    settings = res.settings
    try:
        summary, sha256 = await asyncio.get_running_loop().run_in_executor(
            _VALIDATION, _inspect, data, ReadLimits.from_settings(settings)
        )
    except AvroFileError as exc:
        metrics.UPLOADS_REJECTED.labels(reason=exc.reason).inc()
        raise UnprocessableFile(exc.message, status_code=exc.status_code) from exc
    named = FILENAME_PATTERN.match(filename)
    if named and named["hc_class"] != summary.record_type:
        metrics.UPLOADS_REJECTED.labels(reason="filename_mismatch").inc()
        raise Unprocessable(
            f"file name says {named['hc_class']} but the file contains {summary.record_type}"
        )

    user = user_key(subject)
    if not _insert_detects_duplicates(res):
        existing = await _find_by_sha(res, user, sha256)
        if existing is not None:
            metrics.UPLOADS_DUPLICATE.inc()
            return Accepted(existing, True)

    # The key is derived from the user and the bytes: storing a duplicate again rewrites
    # the same object, so PostgreSQL needs no duplicate check before it (one round trip
    # less for every new upload; the insert below detects the duplicate).
    key = object_key(user, summary, sha256)
    await res.store.put(key, data, "avro/binary")
    now = datetime.now(UTC)
    upload = Upload(
        id=uuid.uuid4(),
        user_id=user,
        sha256=sha256,
        record_type=summary.record_type,
        object_key=key,
        file_name=filename,
        description=description,
        file_size_bytes=len(data),
        record_count=summary.record_count,
        codec=summary.codec,
        data_start=_ms_to_dt(summary.data_start_ms),
        data_end=_ms_to_dt(summary.data_end_ms),
        status=UploadStatus.queued.value,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    event = outbox_row(UPLOAD_RECEIVED, upload_event(upload))
    if not await _insert_with_event(res, _row(upload), event):
        existing = await _find_by_sha(res, user, sha256)
        if existing is None:
            # erased by a concurrent "delete my data" between the two statements
            raise DependencyUnavailable("database (the upload changed concurrently)")
        metrics.UPLOADS_DUPLICATE.inc()
        return Accepted(existing, True)
    metrics.UPLOADS_ACCEPTED.labels(record_type=summary.record_type).inc()
    metrics.UPLOAD_BYTES.inc(len(data))
    metrics.UPLOAD_RECORDS.labels(record_type=summary.record_type).inc(summary.record_count)
    return Accepted(upload, False)


def _insert_detects_duplicates(res: Resources) -> bool:
    """PostgreSQL's insert skips a duplicate and tells (ON CONFLICT in a CTE); on SQLite
    duplicates are looked up first."""
    return bool(res.engine.dialect.name == "postgresql")


async def _insert_with_event(res: Resources, row: dict[str, Any], event: dict[str, Any]) -> bool:
    """The upload row and its outbox event, atomically; False when the user already has
    an upload of these bytes. Core statements (the hot path skips the ORM unit of work);
    on PostgreSQL one statement run in autocommit mode: one round trip instead of BEGIN,
    a duplicate check, two INSERTs and COMMIT."""
    if _insert_detects_duplicates(res):
        return await insert_on_postgres(res.engine, row, event)
    try:
        async with res.engine.begin() as conn:
            await conn.execute(insert(Upload), [row])
            await conn.execute(insert(OutboxEvent), [event])
    except IntegrityError:  # a concurrent request stored the same bytes first
        return False
    return True


async def insert_on_postgres(
    engine: AsyncEngine, row: dict[str, Any], event: dict[str, Any]
) -> bool:
    """PostgreSQL's path of :func:`_insert_with_event`: :func:`_upload_and_event` on the
    asyncpg driver; False when the user already has an upload of these bytes."""
    params = {f"u_{k}": v for k, v in row.items()} | {f"e_{k}": v for k, v in event.items()}
    statement = _upload_and_event(tuple(row), tuple(event), engine.dialect)
    return await driver.fetchrow(engine, statement, params) is not None


@lru_cache(maxsize=4)
def _upload_and_event(
    upload_columns: tuple[str, ...], event_columns: tuple[str, ...], dialect: Dialect
) -> driver.DriverStatement:
    """``WITH new_upload AS (INSERT INTO uploads ... ON CONFLICT DO NOTHING RETURNING id)
    INSERT INTO outbox_events ... SELECT ... FROM new_upload RETURNING id``: the event is
    written only with a new upload. Parameters are named ``u_*`` and ``e_*``; compiled
    once and run on the asyncpg driver (see :mod:`healthplatform.db.driver`)."""
    uploads, events = cast(Table, Upload.__table__), cast(Table, OutboxEvent.__table__)
    new_upload = (
        postgresql.insert(uploads)
        .values({c: bindparam(f"u_{c}", type_=uploads.c[c].type) for c in upload_columns})
        .on_conflict_do_nothing()
        .returning(uploads.c.id)
        .cte("new_upload")
    )
    event_values = select(
        *(bindparam(f"e_{c}", type_=events.c[c].type) for c in event_columns)
    ).select_from(new_upload)
    statement = insert(events).from_select(list(event_columns), event_values).returning(events.c.id)
    return driver.DriverStatement(statement, dialect)


def upload_event(
    upload: Any, *, accepted_at: datetime | None = None, **extra: object
) -> dict[str, object]:
    """Payload of the ``upload.received`` event, from an upload row (ORM object or Core
    row); also used when an upload is requeued or reprocessed (``extra`` says why)."""
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


def _row(upload: Upload) -> dict[str, object]:
    return {c.key: getattr(upload, c.key) for c in Upload.__table__.columns}


async def _find_by_sha(res: Resources, user: str, sha256: str) -> Upload | None:
    """The user's earlier upload of the same bytes. It runs per upload: a Core query in
    autocommit mode (no BEGIN/ROLLBACK round trips around a single read)."""
    async with autocommit(res.engine) as conn:
        row = (
            (
                await conn.execute(
                    select(Upload.__table__).where(Upload.user_id == user, Upload.sha256 == sha256)
                )
            )
            .mappings()
            .first()
        )
    return Upload(**row) if row is not None else None


async def get_status(res: Resources, subject: str, upload_id: uuid.UUID) -> Upload:
    async with res.sessions() as session:
        upload = await UploadRepository(session).get_for_user(user_key(subject), upload_id)
    if upload is None:
        raise NotFound("upload not found")
    return upload


@dataclass(frozen=True)
class HistoryFilter:
    status: UploadStatus | None = None
    record_type: str | None = None
    from_date: date | None = None
    to_date: date | None = None


async def history(
    res: Resources, subject: str, flt: HistoryFilter, limit: int, offset: int
) -> tuple[list[Upload], int]:
    query = select(Upload).where(Upload.user_id == user_key(subject))
    if flt.status is not None:
        query = query.where(Upload.status == flt.status.value)
    if flt.record_type is not None:
        query = query.where(Upload.record_type == flt.record_type)
    if flt.from_date is not None:
        query = query.where(Upload.created_at >= datetime.combine(flt.from_date, time.min, UTC))
    if flt.to_date is not None:
        query = query.where(Upload.created_at <= datetime.combine(flt.to_date, time.max, UTC))
    async with res.sessions() as session:
        return await UploadRepository(session).history(query, limit, offset)


# --- status lifecycle (used by the ETL worker) ------------------------------------------------
# queued -> processing -> completed | failed | quarantined; a redelivered event may move
# processing -> processing again; reprocessing resets a finished upload to queued.


@dataclass(frozen=True)
class Claimed:
    """An upload the worker has just moved to ``processing``."""

    id: uuid.UUID
    user_id: str
    record_type: str
    object_key: str


_CLAIMABLE = (UploadStatus.queued.value, UploadStatus.processing.value, UploadStatus.failed.value)


async def claim_for_processing(res: Resources, upload_id: uuid.UUID) -> Claimed | None:
    """Move the upload to ``processing`` (one more attempt) in a single statement, run in
    autocommit mode (one round trip); None when it is gone (erased) or already finished
    (completed or quarantined)."""
    now = datetime.now(UTC)
    async with autocommit(res.engine) as conn:
        row = (
            await conn.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.status.in_(_CLAIMABLE))
                .values(
                    status=UploadStatus.processing.value,
                    processing_started_at=now,
                    updated_at=now,
                    attempts=Upload.attempts + 1,
                    error=None,
                )
                .returning(Upload.user_id, Upload.record_type, Upload.object_key)
            )
        ).one_or_none()
    return None if row is None else Claimed(upload_id, *row)


async def mark_failed(
    res: Resources, upload_id: uuid.UUID, error: str, *, quarantine: bool = False
) -> bool:
    target = UploadStatus.quarantined if quarantine else UploadStatus.failed
    async with transaction(res.sessions) as session:
        return await UploadRepository(session).transition(
            upload_id,
            (UploadStatus.queued, UploadStatus.processing),
            target,
            finished_at=datetime.now(UTC),
            error=error[:2000],
        )
