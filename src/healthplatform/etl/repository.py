"""SQL of the narrative engine around the observations: the person's lock, consent, daily
metrics, narratives, and deleting what was derived (observations: ``etl.observation_rows``)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    case,
    delete,
    func,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from healthplatform.db.models import (
    Consent,
    DailyMetrics,
    Narrative,
    PersonJob,
    Upload,
    UtcStampingOrigin,
    ZoneEvidence,
    ZoneSetting,
)
from healthplatform.db.models import Observation as ObservationRow
from healthplatform.etl.narratives.model import Narrative as NarrativeText


async def lock_user(conn: AsyncConnection, user_id: str) -> None:
    """Serialise one user's processing (PostgreSQL advisory lock for this transaction;
    SQLite serialises writers by itself)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(bytes.fromhex(user_id[:16]), "big", signed=True)
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


AI_TRAINING = "ai_training"


async def training_consent(conn: AsyncConnection, user_id: str) -> bool:
    """Whether the person's latest choice allows training examples (default: no)."""
    granted = (
        await conn.execute(
            select(Consent.granted)
            .where(Consent.user_id == user_id, Consent.purpose == AI_TRAINING)
            .order_by(Consent.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return bool(granted)


async def days_of_older_definitions(engine: AsyncEngine, version: str) -> int:
    """How many stored days were derived with other metric definitions than ``version``."""
    async with engine.connect() as conn:
        found = await conn.execute(
            select(func.count()).where(DailyMetrics.definitions_version != version)
        )
        return int(found.scalar_one())


async def stored_dates(conn: AsyncConnection, user_id: str, first: date, last: date) -> list[date]:
    """The user's days with stored metrics in [first, last]."""
    table = DailyMetrics.__table__
    rows = await conn.execute(
        select(table.c.local_date).where(
            table.c.user_id == user_id, table.c.local_date >= first, table.c.local_date <= last
        )
    )
    return list(rows.scalars())


async def load_days_around(
    conn: AsyncConnection, user_id: str, first: date, last: date, reach: int
) -> list[Any]:
    """The user's stored daily rows in [first - reach, last], oldest first, in one query:
    metrics of all of them (the journals' history), provenance, context and training key
    only from ``first`` on (the days that may be rewritten)."""
    table = DailyMetrics.__table__
    rewritable = table.c.local_date >= first
    rows = await conn.execute(
        select(
            table.c.local_date,
            table.c.metrics,
            type_coerce(case((rewritable, table.c.provenance)), JSON).label("provenance"),
            type_coerce(case((rewritable, table.c.context)), JSON).label("context"),
            case((rewritable, table.c.training_key)).label("training_key"),
        )
        .where(
            table.c.user_id == user_id,
            table.c.local_date >= first - timedelta(days=reach),
            table.c.local_date <= last,
        )
        .order_by(table.c.local_date)
    )
    return list(rows)


async def _upsert_many(
    conn: AsyncConnection, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={k: stmt.excluded[k] for k in rows[0] if k not in keys}
    )
    await conn.execute(stmt, rows)


def day_row(
    user_id: str,
    day: date,
    metrics: dict[str, Any],
    version: str,
    provenance: dict[str, Any],
    training: str | None,
    context: dict[str, Any] | None = None,
    series: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "local_date": day,
        "metrics": metrics,
        "definitions_version": version,
        "source_upload_ids": sorted({u for p in provenance.values() for u in p["uploads"]}),
        "provenance": provenance,
        "training_key": training,
        "context": context,
        "series": series,
        "updated_at": datetime.now(UTC),
    }


def narrative_row(
    *,
    key: str,
    user_id: str,
    kind: str,
    local_date: date | None,
    upload_id: uuid.UUID | None,
    domains: list[str],
    narrative: NarrativeText,
    version: str,
    status: str = "published",
) -> dict[str, Any]:
    return {
        "key": key,
        "user_id": user_id,
        "kind": kind,
        "local_date": local_date,
        "upload_id": upload_id,
        "domains": domains,
        "statistical": narrative.statistical,
        "structural": narrative.structural,
        "semantic": narrative.semantic,
        "claims": narrative.claims_json(),
        "sections": narrative.sentences_json(),
        "status": status,
        "superseded_at": None,
        "definitions_version": version,
        "updated_at": datetime.now(UTC),
    }


async def save_days(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _upsert_many(conn, DailyMetrics.__table__, rows, ("user_id", "local_date"))


async def save_narratives(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _upsert_many(conn, Narrative.__table__, rows, ("key",))


async def supersede_upload_narratives(
    conn: AsyncConnection, user_id: str, keep: Collection[uuid.UUID], days: Collection[date]
) -> None:
    """Mark superseded the narratives of other uploads whose data touches ``days`` (those
    days were derived again since: their journals hold the current picture)."""
    if not days:
        return
    lo = datetime.combine(min(days) - timedelta(days=1), datetime.min.time(), UTC)
    hi = datetime.combine(max(days) + timedelta(days=2), datetime.min.time(), UTC)
    touching = select(Upload.id).where(
        Upload.user_id == user_id, Upload.data_start < hi, Upload.data_end >= lo
    )
    if keep:
        touching = touching.where(Upload.id.not_in(list(keep)))
    await conn.execute(
        update(Narrative)
        .where(
            Narrative.user_id == user_id,
            Narrative.kind == "upload",
            Narrative.superseded_at.is_(None),
            Narrative.upload_id.in_(touching),
        )
        .values(superseded_at=datetime.now(UTC))
    )


async def delete_day(conn: AsyncConnection, user_id: str, day: date) -> None:
    """Remove a day left without data: its metrics and its journal."""
    await conn.execute(
        delete(DailyMetrics).where(DailyMetrics.user_id == user_id, DailyMetrics.local_date == day)
    )
    await conn.execute(
        delete(Narrative).where(
            Narrative.user_id == user_id, Narrative.kind == "daily", Narrative.local_date == day
        )
    )


DERIVED = (ObservationRow, DailyMetrics, Narrative, ZoneEvidence, UtcStampingOrigin)
CHOICES = (ZoneSetting, Consent)  # what the person set: kept by a rebuild, erased with them


async def delete_derived(conn: AsyncConnection, user_id: str) -> int:
    """Everything derived from the person's uploads (a rebuild makes it again)."""
    return await _delete(conn, user_id, DERIVED)


async def delete_user(conn: AsyncConnection, user_id: str) -> int:
    """Everything derived, the person's own settings and choices, and their re-derive
    bookkeeping (``person_jobs``, keyed by the same user key): erasure."""
    return await _delete(conn, user_id, DERIVED + CHOICES + (PersonJob,))


async def _delete(conn: AsyncConnection, user_id: str, models: tuple[Any, ...]) -> int:
    total = 0
    for model in models:
        result = await conn.execute(delete(model).where(model.user_id == user_id))
        total += int(getattr(result, "rowcount", 0) or 0)
    return total
