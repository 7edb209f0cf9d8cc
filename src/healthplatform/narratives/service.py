"""Queries over narratives and daily metrics, always scoped to one user."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from sqlalchemy import func, select

from healthplatform.db.models import DailyMetrics, Narrative, Upload
from healthplatform.etl.narratives.model import Narrative as NarrativeText
from healthplatform.narratives.schemas import ClaimOut, NarrativeOut, SentenceOut
from healthplatform.runtime import Resources
from healthplatform.uploads.schemas import UploadStatusOut
from healthplatform.uploads.service import user_key


def _out(row: Narrative, metrics: dict[str, Any] | None, domain: str | None = None) -> NarrativeOut:
    """The wire shape of a stored narrative; with ``domain``, that domain's sentences only."""
    text = NarrativeText.from_json(row.sections or [], row.claims or [])
    if domain is not None:
        text = text.for_domain(domain)
    return NarrativeOut(
        kind=row.kind,
        date=row.local_date,
        upload_id=row.upload_id,
        domains=[domain] if domain is not None else row.domains,
        statistical=text.statistical,
        structural=text.structural,
        semantic=text.semantic,
        text=text.text,
        claims=[ClaimOut.model_validate(c) for c in text.claims_json()],
        sentences=[SentenceOut.model_validate(s) for s in text.sentences_json()],
        superseded=row.superseded_at is not None,
        metrics=metrics if domain is None or metrics is None else {domain: metrics.get(domain)},
        definitions_version=row.definitions_version,
        updated_at=row.updated_at,
    )


async def list_narratives(
    res: Resources,
    subject: str,
    *,
    first: date | None,
    last: date | None,
    domain: str | None,
    kind: str,
    limit: int,
    offset: int,
) -> tuple[list[NarrativeOut], int]:
    user = user_key(subject)
    query = select(Narrative).where(
        Narrative.user_id == user, Narrative.kind == kind, Narrative.status == "published"
    )
    if first is not None:
        query = query.where(Narrative.local_date >= first)
    if last is not None:
        query = query.where(Narrative.local_date <= last)
    async with res.sessions() as session:
        rows = list(
            (
                await session.execute(
                    query.order_by(Narrative.local_date.desc(), Narrative.id.desc())
                )
            ).scalars()
        )
        if domain is not None:  # JSON arrays differ per backend: filter here (bounded by dates)
            rows = [r for r in rows if domain in r.domains]
        total = len(rows)
        page = rows[offset : offset + limit]
        days = [r.local_date for r in page if r.local_date is not None]
        metrics: dict[date, dict[str, Any]] = {}
        if days:
            for m in (
                await session.execute(
                    select(DailyMetrics).where(
                        DailyMetrics.user_id == user, DailyMetrics.local_date.in_(days)
                    )
                )
            ).scalars():
                metrics[m.local_date] = m.metrics
    return [
        _out(r, metrics.get(r.local_date) if r.local_date else None, domain) for r in page
    ], total


async def export_lines(res: Resources, subject: str) -> AsyncIterator[bytes]:
    """Everything the platform derived for the caller, as JSON lines (typed by ``type``)."""
    user = user_key(subject)

    def line(kind: str, body: dict[str, Any]) -> bytes:
        return (json.dumps({"type": kind, **body}, default=str, sort_keys=True) + "\n").encode()

    async with res.sessions() as session:
        total = (
            await session.execute(select(func.count()).where(Upload.user_id == user))
        ).scalar_one()
        yield line("export", {"format": "healthplatform-export/1", "uploads": total})
        for upload in (
            await session.execute(
                select(Upload).where(Upload.user_id == user).order_by(Upload.created_at)
            )
        ).scalars():
            yield line("upload", UploadStatusOut.model_validate(upload).model_dump(mode="json"))
        for day in (
            await session.execute(
                select(DailyMetrics)
                .where(DailyMetrics.user_id == user)
                .order_by(DailyMetrics.local_date)
            )
        ).scalars():
            yield line(
                "daily_metrics",
                {
                    "date": day.local_date.isoformat(),
                    "metrics": day.metrics,
                    "context": day.context,  # the day's zone and where its times came from
                    "definitions_version": day.definitions_version,
                    "source_upload_ids": day.source_upload_ids,
                },
            )
        for row in (
            await session.execute(
                select(Narrative)
                .where(Narrative.user_id == user, Narrative.status == "published")
                .order_by(Narrative.kind, Narrative.local_date, Narrative.id)
            )
        ).scalars():
            yield line("narrative", _out(row, None).model_dump(mode="json", exclude={"metrics"}))
