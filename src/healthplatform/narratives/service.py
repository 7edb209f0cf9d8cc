"""Queries over narratives and daily metrics, always scoped to one user."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from healthplatform.db.models import DailyMetrics, Narrative, Upload
from healthplatform.runtime import Resources
from healthplatform.uploads.schemas import UploadStatusOut

_COLUMNS = (
    Narrative.kind,
    Narrative.local_date,
    Narrative.upload_id,
    Narrative.domains,
    Narrative.sections,
    Narrative.claims,
    Narrative.superseded_at,
    Narrative.definitions_version,
    Narrative.updated_at,
)
LAYERS = ("statistical", "structural", "semantic")


async def published_journal(session: AsyncSession, user: str, day: date) -> Narrative | None:
    """The day's published daily journal (None when there is none or it was withheld)."""
    return (
        await session.execute(
            select(Narrative).where(
                Narrative.user_id == user,
                Narrative.kind == "daily",
                Narrative.local_date == day,
                Narrative.status == "published",
            )
        )
    ).scalar_one_or_none()


def narrative_json(
    row: Any, metrics: dict[str, Any] | None, domain: str | None = None
) -> dict[str, Any]:
    """The wire shape of a stored narrative (``NarrativeOut``) as plain JSON values; with
    ``domain``, that domain's sentences and claims only. Built from the stored sentences
    and claims as they are (no model objects: a year of narratives is read at once)."""
    sentences = row.sections or []
    claims = row.claims or []
    if domain is not None:
        sentences = [s for s in sentences if s["domain"] == domain]
        shown = {c for s in sentences for c in s["claims"]}
        claims = [c for c in claims if c["id"] in shown]
        if metrics is not None:
            metrics = {domain: metrics.get(domain)}
    layers = {
        name: "\n".join(s["text"] for s in sentences if s["layer"] == name) for name in LAYERS
    }
    return {
        "kind": row.kind,
        "date": row.local_date.isoformat() if row.local_date else None,
        "upload_id": str(row.upload_id) if row.upload_id else None,
        "domains": [domain] if domain is not None else row.domains,
        **layers,
        "text": "\n\n".join(layers[name] for name in LAYERS if layers[name]),
        "claims": claims,
        "sentences": sentences,
        "superseded": row.superseded_at is not None,
        "metrics": metrics,
        "definitions_version": row.definitions_version,
        "updated_at": row.updated_at.isoformat(),
    }


async def list_narratives(
    res: Resources,
    user: str,
    *,
    first: date | None,
    last: date | None,
    domain: str | None,
    kind: str,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    where = [Narrative.user_id == user, Narrative.kind == kind, Narrative.status == "published"]
    if first is not None:
        where.append(Narrative.local_date >= first)
    if last is not None:
        where.append(Narrative.local_date <= last)
    newest_first = (Narrative.local_date.desc(), Narrative.id.desc())
    async with res.engine.connect() as conn:
        if domain is None:
            total = (await conn.execute(select(func.count()).where(*where))).scalar_one()
            query = select(*_COLUMNS).where(*where).order_by(*newest_first)
            page = list(await conn.execute(query.limit(limit).offset(offset)))
        else:  # JSON arrays differ per backend: filter here (bounded by the dates)
            keys = await conn.execute(select(Narrative.id, Narrative.domains).where(*where)
                                      .order_by(*newest_first))  # fmt: skip
            ids = [i for i, domains in keys if domain in domains]
            total = len(ids)
            chosen = ids[offset : offset + limit]
            found = await conn.execute(
                select(Narrative.id, *_COLUMNS).where(Narrative.id.in_(chosen))
            )
            by_id = {row.id: row for row in found}
            page = [by_id[i] for i in chosen]
        days = [r.local_date for r in page if r.local_date is not None]
        metrics: dict[date, dict[str, Any]] = {}
        if days:
            found_days = await conn.execute(
                select(DailyMetrics.local_date, DailyMetrics.metrics).where(
                    DailyMetrics.user_id == user, DailyMetrics.local_date.in_(days)
                )
            )
            metrics = {day: values for day, values in found_days}
    out = [narrative_json(r, metrics.get(r.local_date) if r.local_date else None, domain)
           for r in page]  # fmt: skip
    return out, total


_EXPORT_CHUNK = 100  # rows per fetch from the server-side cursor


async def export_lines(res: Resources, user: str) -> AsyncIterator[bytes]:
    """Everything the platform derived for the caller, as JSON lines (typed by ``type``).
    Streamed from server-side cursors: memory stays flat however many years there are."""

    def line(kind: str, body: dict[str, Any]) -> bytes:
        return (json.dumps({"type": kind, **body}, default=str, sort_keys=True) + "\n").encode()

    async with res.sessions() as session:
        total = (
            await session.execute(select(func.count()).where(Upload.user_id == user))
        ).scalar_one()
        yield line("export", {"format": "healthplatform-export/1", "uploads": total})
        uploads = await session.stream_scalars(
            select(Upload)
            .where(Upload.user_id == user)
            .order_by(Upload.created_at)
            .execution_options(yield_per=_EXPORT_CHUNK)
        )
        async for upload in uploads:
            yield line("upload", UploadStatusOut.model_validate(upload).model_dump(mode="json"))
        session.expunge_all()
        days = await session.stream(
            select(
                DailyMetrics.local_date,
                DailyMetrics.metrics,
                DailyMetrics.context,  # the day's zone and where its times came from
                DailyMetrics.definitions_version,
                DailyMetrics.source_upload_ids,
            )
            .where(DailyMetrics.user_id == user)
            .order_by(DailyMetrics.local_date)
            .execution_options(yield_per=_EXPORT_CHUNK)
        )
        async for day in days:
            yield line(
                "daily_metrics",
                {
                    "date": day.local_date.isoformat(),
                    "metrics": day.metrics,
                    "context": day.context,
                    "definitions_version": day.definitions_version,
                    "source_upload_ids": day.source_upload_ids,
                },
            )
        narratives = await session.stream(
            select(*_COLUMNS)
            .where(Narrative.user_id == user, Narrative.status == "published")
            .order_by(Narrative.kind, Narrative.local_date, Narrative.id)
            .execution_options(yield_per=_EXPORT_CHUNK)
        )
        async for row in narratives:
            body = narrative_json(row, None)
            del body["metrics"]
            yield line("narrative", body)
