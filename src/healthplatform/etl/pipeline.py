"""Processing one upload event, with idempotent effects.

1. Wait for the person's lock (a transaction-scoped advisory lock on PostgreSQL): while a
   batch of theirs runs, this upload is still queued and that batch takes it (claiming it
   first would split the person's backlog into batches that derive the same days again).
2. ``queued -> processing`` (own short transaction, visible to the client); then fetch and
   decode the object in a thread (malformed records counted, not fatal).
3. In the locked transaction: place the records on the person's clock (``etl.placement``),
   upsert them (the newest version of each Health Connect record wins), move stored
   records whose placement changed, derive every local day touched (``etl.derive``), write
   the upload narrative and set the upload ``completed``; the person's other queued
   uploads join the batch. A crash anywhere rolls it all back; a redelivered event for a
   completed upload changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from healthplatform.core import metrics as prom
from healthplatform.db.engine import autocommit
from healthplatform.etl import observation_rows, person_jobs, placement
from healthplatform.etl import repository as repo
from healthplatform.etl.decode import Decoded, decode_file
from healthplatform.etl.derive import (
    DOMAIN_OF,
    Derived,
    derive,
    narrative_row,
    off_loop,
    verified_upload,
)
from healthplatform.etl.narratives import upload_narrative
from healthplatform.healthconnect.container import ReadLimits
from healthplatform.runtime import Resources
from healthplatform.storage.base import ObjectNotFound
from healthplatform.uploads import repository as uploads

log = logging.getLogger(__name__)
BATCH_UPLOADS = 32  # a person's queued uploads derived in one unit of work


class PermanentError(Exception):
    """Retrying cannot help: the upload is marked failed (or quarantined)."""

    def __init__(self, message: str, *, quarantine: bool = False) -> None:
        super().__init__(message)
        self.quarantine = quarantine


@dataclass(frozen=True)
class Outcome:
    upload_id: uuid.UUID
    status: str  # completed | skipped (already done or gone)
    days: int = 0
    records: int = 0
    uploads: int = 1  # uploads completed together (the person's queued ones)


async def _decode(res: Resources, upload: uploads.Claimed) -> Decoded:
    """Fetch and decode a stored upload. Raises :class:`PermanentError`."""
    try:
        data = await res.store.get(upload.object_key)
    except ObjectNotFound as exc:
        raise PermanentError("the stored file is missing") from exc
    try:
        limits = replace(
            ReadLimits.from_settings(res.settings), cpu_seconds=res.settings.etl_decode_cpu_seconds
        )
        decoded = await off_loop(decode_file, data, upload.record_type, limits)
    except Exception as exc:  # the file passed validation at upload: storage corruption
        raise PermanentError(f"stored file cannot be decoded: {exc}", quarantine=True) from exc
    if not decoded.observations:
        raise PermanentError(f"no usable records ({decoded.malformed} malformed)", quarantine=True)
    return decoded


async def process_upload(res: Resources, upload_id: uuid.UUID) -> Outcome:
    async with autocommit(res.engine) as conn:
        owner = await uploads.owner(conn, upload_id)
    if owner is None:
        return Outcome(upload_id, "skipped")  # erased meanwhile
    async with res.engine.begin() as conn:
        # the person's lock before any row lock: the holder takes the person's queued
        # uploads, and a worker holding a row of them while waiting for it would deadlock
        await repo.lock_user(conn, owner)
        async with autocommit(res.engine) as own:  # visible to the client at once
            upload = await uploads.claim(own, upload_id)
        if upload is None:
            return Outcome(upload_id, "skipped")  # a batch took it, or it was done before
        decoded = await _decode(res, upload)
        prom.ETL_MALFORMED_RECORDS.inc(decoded.malformed)
        return await _apply(res, conn, upload, decoded)


async def _more_of_the_person(
    res: Resources, conn: AsyncConnection, user: str, first: uuid.UUID
) -> list[tuple[uploads.Claimed, Decoded]]:
    """The person's other queued uploads (oldest first, up to ``BATCH_UPLOADS``), decoded
    and moved to ``processing`` inside the caller's transaction: a phone sends a file per
    record type per day at once, and their days are derived once for all of them. One that
    cannot be fetched or decoded is left queued: its own event reports it."""
    batch: list[tuple[uploads.Claimed, Decoded]] = []
    for claimed in await uploads.queued_of(conn, user, first, BATCH_UPLOADS - 1):
        try:
            decoded = await _decode(res, claimed)
        except PermanentError:
            continue
        prom.ETL_MALFORMED_RECORDS.inc(decoded.malformed)
        batch.append((claimed, decoded))
    taken = await uploads.take_queued(conn, [c.id for c, _ in batch])
    return [(c, d) for c, d in batch if c.id in taken]


async def _apply(
    res: Resources, conn: AsyncConnection, upload: uploads.Claimed, decoded: Decoded
) -> Outcome:
    """The locked transaction's work (``conn`` holds the person's lock; the caller commits)."""
    user = upload.user_id
    # first write (on SQLite, where the person's lock is a no-op, this takes the write
    # lock); the upload may have been erased since it was claimed
    if not await uploads.still_processing(conn, upload.id):
        return Outcome(upload.id, "skipped")
    batch = [(upload, decoded), *await _more_of_the_person(res, conn, user, upload.id)]
    everything = [o for _, found in batch for o in found.observations]
    # placed together: each record with the evidence of the whole batch
    placed = await placement.place_upload(conn, user, everything)
    dirty: set[date] = set()
    touched: dict[uuid.UUID, list[date]] = {}
    for claimed, found in batch:  # stored in upload order
        observations = found.observations
        days = sorted({d for o in observations for d in observation_rows.observation_days(o)})
        touched[claimed.id] = days
        dirty |= set(days)
        dirty |= await observation_rows.upsert_observations(conn, user, claimed.id, observations)
    moved = await placement.replace_after_upload(conn, user, placed)
    dirty |= moved.days
    moved.apply_to(everything)  # the copies in memory move with the stored rows
    derived = await derive(
        res, conn, user, dirty, [(c.id, found.observations) for c, found in batch]
    )
    completed = [
        _complete(user, claimed, found, touched[claimed.id], derived) for claimed, found in batch
    ]
    await repo.save_narratives(conn, [narrative for narrative, _ in completed])
    await uploads.complete(conn, [done for _, done in completed])
    await repo.supersede_upload_narratives(conn, user, {c.id for c, _ in batch}, derived.changed)
    records = sum(len(found.observations) for _, found in batch)
    return Outcome(upload.id, "completed", len(dirty), records, len(batch))


def _complete(
    user: str, upload: uploads.Claimed, decoded: Decoded, days: list[date], derived: Derived
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The upload's narrative row (the days it brought data to, as they stand now,
    verified) and the values that complete it."""
    domain = DOMAIN_OF[upload.record_type]
    with_data = [(d, derived.results[d].metrics) for d in days if d in derived.results]
    summary = upload_narrative(
        upload.record_type,
        [(d, metrics) for d, metrics in with_data if domain in metrics],
        {d: r.context["offset_minutes"] for d, r in derived.results.items()},
    )
    published = verified_upload(summary, derived, f"upload:{upload.id}")
    row = narrative_row(
        f"upload:{upload.id}",
        user,
        "upload",
        None,
        upload.id,
        [domain],
        summary,
        "published" if published else "withheld",
    )
    done = {
        "upload_id": upload.id,
        "preview": summary.preview(280),
        "report": {**decoded.report(), "days": [d.isoformat() for d in days]},
    }
    return row, done


async def rederive_user(res: Resources, user: str, *, all_days: bool = False) -> int:
    """Place every record of the person again and derive the days that moved (their zone
    setting changed), or every stored day (``all_days``: their consent or the metric
    definitions changed). Returns the number of days derived."""
    async with res.engine.begin() as conn:
        await repo.lock_user(conn, user)
        requested = await person_jobs.seen(conn, user)
        dirty = (await placement.replace_all(conn, user)).days
        if all_days:
            dirty |= set(await repo.stored_dates(conn, user, date.min, date.max))
            dirty |= await observation_rows.observation_dates(conn, user)
        derived = await derive(res, conn, user, dirty)
        await repo.supersede_upload_narratives(conn, user, (), derived.changed)
        await person_jobs.done(conn, user, requested)
    return len(derived.results) + len(derived.deleted)
