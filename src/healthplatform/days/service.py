"""The day view: the stored metrics, clock, chart series and journal of one local day.

Everything is read as the ETL stored it (one computation feeds the tiles, the journal's
claims, the charts and the export); nothing is computed again here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from healthplatform.db.models import DailyMetrics, Narrative
from healthplatform.etl.narratives.model import Narrative as NarrativeText
from healthplatform.runtime import Resources
from healthplatform.uploads.service import user_key


async def day_view(res: Resources, subject: str, day: date) -> dict[str, Any] | None:
    user = user_key(subject)
    async with res.sessions() as session:
        stored = await session.get(DailyMetrics, (user, day))
        if stored is None:
            return None
        journal = (
            await session.execute(
                select(Narrative).where(
                    Narrative.user_id == user,
                    Narrative.kind == "daily",
                    Narrative.local_date == day,
                    Narrative.status == "published",
                )
            )
        ).scalar_one_or_none()
    text = (
        None
        if journal is None
        else NarrativeText.from_json(journal.sections or [], journal.claims or [])
    )
    return {
        "date": day.isoformat(),
        "metrics": stored.metrics,
        "context": stored.context or {},
        "journal": None
        if text is None
        else {
            "statistical": text.statistical,
            "structural": text.structural,
            "semantic": text.semantic,
            "claims": text.claims_json(),
        },
        "series": stored.series or {},
        "definitions_version": stored.definitions_version,
    }


async def days_with_data(res: Resources, subject: str, limit: int) -> list[str]:
    async with res.sessions() as session:
        days = (
            await session.execute(
                select(DailyMetrics.local_date)
                .where(DailyMetrics.user_id == user_key(subject))
                .order_by(DailyMetrics.local_date.desc())
                .limit(limit)
            )
        ).scalars()
        return [d.isoformat() for d in days]
