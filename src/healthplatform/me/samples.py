"""Sample data for a person without an export yet ("Try sample data" in the web app).

A synthetic week (glucose every 5 min, heart rate, steps, sleep, active energy), written
byte for byte the same every time (a fixed Avro sync marker), so loading it again finds
every file already there: the history never doubles. Every sample upload carries the
description ``SAMPLE_DESCRIPTION``; the history, the day pages and the trends read it to
label sample data as such.
"""

from __future__ import annotations

import io
from datetime import date

import fastavro
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.db.models import Observation, Upload
from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_records
from healthplatform.runtime import Resources
from healthplatform.uploads import SAMPLE_DESCRIPTION
from healthplatform.uploads.service import accept_upload

SYNC_MARKER = b"hp-sample-week.1"  # 16 bytes: the same bytes on every load
DAY_MS = 86_400_000
WEEK_START_MS = 1_758_326_400_000  # 2025-09-20 00:00 UTC, as `healthplatform demo`
SYNTHETIC_DAY = (  # record type, records per day, spacing (ms)
    ("BloodGlucoseRecord", 288, 300_000),
    ("HeartRateRecord", 96, 900_000),
    ("StepsRecord", 24, 3_600_000),
    ("SleepSessionRecord", 1, 28_800_000),
    ("ActiveCaloriesBurnedRecord", 24, 3_600_000),
)
router = APIRouter(prefix="/v1/me", tags=["me"])


def sample_week() -> list[tuple[str, bytes]]:
    files = []
    for day in range(7):
        start = WEEK_START_MS + day * DAY_MS
        for record_type, count, step in SYNTHETIC_DAY:
            buf = io.BytesIO()
            schema = fastavro.parse_schema(record_types()[record_type].schema)
            records = synthetic_records(record_type, count, start_ms=start, seed=day, step_ms=step)
            fastavro.writer(buf, schema, records, sync_marker=SYNC_MARKER)
            files.append((f"{record_type}_{start}.avro", buf.getvalue()))
    return files


async def load_samples(res: Resources, user: str) -> tuple[int, int]:
    """Upload the sample week for the person: (new uploads, already there)."""
    new = already = 0
    for name, data in sample_week():
        accepted = await accept_upload(res, user, name, data, SAMPLE_DESCRIPTION)
        if accepted.duplicate:
            already += 1
        else:
            new += 1
    return new, already


async def sample_days(session: AsyncSession, user: str, first: date, last: date) -> set[date]:
    """The local days in [first, last] that hold records of a sample upload."""
    rows = await session.execute(
        select(Observation.local_date)
        .join(Upload, Upload.id == Observation.upload_id)
        .where(
            Observation.user_id == user,
            Upload.user_id == user,
            Upload.description == SAMPLE_DESCRIPTION,
            Observation.local_date >= first,
            Observation.local_date <= last,
        )
        .distinct()
    )
    return set(rows.scalars())


class SamplesOut(BaseModel):
    uploads_new: int
    uploads_already_there: int
    label: str = SAMPLE_DESCRIPTION


@router.post("/sample-data", response_model=SamplesOut)
async def try_sample_data(user: CurrentUser, res: ResourcesDep) -> SamplesOut:
    """Load a synthetic sample week into my account, labelled as samples everywhere; a
    second call finds every file already there (nothing doubles)."""
    new, already = await load_samples(res, user.user_id)
    return SamplesOut(uploads_new=new, uploads_already_there=already)
