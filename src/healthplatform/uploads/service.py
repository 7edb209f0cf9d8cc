"""Accepting uploads without ever losing one.

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

from sqlalchemy import ColumnElement

from healthplatform.core import metrics
from healthplatform.core.errors import (
    BadRequest,
    DependencyUnavailable,
    NotFound,
    Unprocessable,
    UnprocessableFile,
    UnsupportedMediaType,
)
from healthplatform.db.engine import autocommit
from healthplatform.db.models import Upload, UploadStatus
from healthplatform.events.outbox import UPLOAD_RECEIVED, outbox_row
from healthplatform.healthconnect.container import (
    AvroFileError,
    FileSummary,
    ReadLimits,
    inspect_file,
)
from healthplatform.healthconnect.registry import FILENAME_PATTERN
from healthplatform.runtime import Resources
from healthplatform.storage.layout import raw_key
from healthplatform.uploads import repository

log = logging.getLogger(__name__)

# Validation never runs on the event loop: a file's reading is bounded (item caps, a CPU
# budget) but can still take seconds; two threads of their own, so hostile files cannot
# take the default executor's threads (storage I/O) from everyone else.
_VALIDATION = ThreadPoolExecutor(max_workers=2, thread_name_prefix="avro-validate")


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
    return raw_key(user, summary.record_type, day, sha256)


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
    res: Resources, user: str, filename: str, data: bytes, description: str | None = None
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

    postgres = res.engine.dialect.name == "postgresql"
    if not postgres:  # PostgreSQL's insert detects a duplicate itself (ON CONFLICT)
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
    event = outbox_row(UPLOAD_RECEIVED, repository.upload_event(upload))
    async with res.engine.connect() as conn:
        inserted = await repository.insert_with_event(conn, repository.row_of(upload), event)
        if conn.in_transaction():  # SQLite's two statements (PostgreSQL's one commits itself)
            await conn.commit()
    if not inserted:
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


async def _find_by_sha(res: Resources, user: str, sha256: str) -> Upload | None:
    """The user's earlier upload of the same bytes. It runs per upload: autocommit mode
    (no BEGIN/ROLLBACK round trips around a single read)."""
    async with autocommit(res.engine) as conn:
        return await repository.by_sha(conn, user, sha256)


async def get_status(res: Resources, user: str, upload_id: uuid.UUID) -> Upload:
    async with res.engine.connect() as conn:
        upload = await repository.for_user(conn, user, upload_id)
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
    res: Resources, user: str, flt: HistoryFilter, limit: int, offset: int
) -> tuple[list[Upload], int]:
    conditions: list[ColumnElement[bool]] = [Upload.user_id == user]
    if flt.status is not None:
        conditions.append(Upload.status == flt.status.value)
    if flt.record_type is not None:
        conditions.append(Upload.record_type == flt.record_type)
    if flt.from_date is not None:
        conditions.append(Upload.created_at >= datetime.combine(flt.from_date, time.min, UTC))
    if flt.to_date is not None:
        conditions.append(Upload.created_at <= datetime.combine(flt.to_date, time.max, UTC))
    async with res.engine.connect() as conn:
        return await repository.page(conn, conditions, limit, offset)
