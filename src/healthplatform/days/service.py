"""The day view: the stored metrics, clock, chart series and journal of one local day.

Everything is read as the ETL stored it (one computation feeds the tiles, the journal's
claims, the charts and the export); nothing is computed again here.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select

from healthplatform.db.models import DailyMetrics, Narrative, Observation
from healthplatform.etl import placement, zones
from healthplatform.etl.narratives.journal import zone_label
from healthplatform.etl.narratives.model import Narrative as NarrativeText
from healthplatform.me.samples import sample_days
from healthplatform.narratives.service import published_journal
from healthplatform.runtime import Resources
from healthplatform.uploads import SAMPLE_DESCRIPTION


async def day_view(res: Resources, user: str, day: date) -> dict[str, Any] | None:
    async with res.sessions() as session:
        stored = await session.get(DailyMetrics, (user, day))
        if stored is None:
            return None
        journal = await published_journal(session, user, day)
        set_zones = await placement.history(await session.connection(), user)
        sample = day in await sample_days(session, user, day, day)
    text = (
        None
        if journal is None
        else NarrativeText.from_json(journal.sections or [], journal.claims or [])
    )
    return {
        "date": day.isoformat(),
        "metrics": stored.metrics,
        "context": stored.context or {},
        "zone": day_zone(stored.context or {}, set_zones, day),
        "sample": {"label": SAMPLE_DESCRIPTION} if sample else None,
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


async def days_with_data(res: Resources, user: str, limit: int) -> list[str]:
    async with res.sessions() as session:
        days = (
            await session.execute(
                select(DailyMetrics.local_date)
                .where(DailyMetrics.user_id == user)
                .order_by(DailyMetrics.local_date.desc())
                .limit(limit)
            )
        ).scalars()
        return [d.isoformat() for d in days]


def day_zone(context: dict[str, Any], set_zones: list[zones.SetZone], day: date) -> dict[str, Any]:
    """The person's zone on the day, as the page shows it: the offset the day's times are
    in, the zone the person set (in force at the day's local noon) or None, and where the
    records' clocks came from (``source``: ``set`` when the person's setting placed some,
    ``inferred`` when their other records did, ``utc`` when nothing could, else
    ``record``: every record carried its own offset). ``placed`` counts the records placed
    by the person's zone (the ones the page flags)."""
    offset = int(context.get("offset_minutes") or 0)
    noon_ms = (day.toordinal() - 719_163) * 86_400_000 + 12 * 3_600_000 - offset * 60_000
    placed_by = context.get("placement") or {}
    source = next((s for s in ("set", "inferred", "utc") if placed_by.get(s)), "record")
    return {
        "offset_minutes": offset,
        "label": zone_label(offset),
        "name": zones.zone_in_force(set_zones, noon_ms),
        "source": source,
        "placed": sum(int(placed_by.get(s) or 0) for s in ("set", "inferred", "utc")),
    }


async def upload_days(res: Resources, user: str, upload_id: uuid.UUID) -> dict[str, Any]:
    """What the history row of an upload expands to: the local days its records fall on
    (start and end days; newer versions of a record from a later upload count there) and
    its upload narrative in full (``superseded`` once a later upload changed its days)."""
    async with res.sessions() as session:
        spans = (
            await session.execute(
                select(Observation.local_date, Observation.end_local_date)
                .where(Observation.user_id == user, Observation.upload_id == upload_id)
                .distinct()
            )
        ).all()
        stored = (
            await session.execute(
                select(Narrative).where(
                    Narrative.user_id == user,
                    Narrative.kind == "upload",
                    Narrative.upload_id == upload_id,
                    Narrative.status == "published",
                )
            )
        ).scalar_one_or_none()
        touched = {d for span in spans for d in span if d is not None}
        with_data = (
            set(
                (
                    await session.execute(
                        select(DailyMetrics.local_date).where(
                            DailyMetrics.user_id == user, DailyMetrics.local_date.in_(touched)
                        )
                    )
                ).scalars()
            )
            if touched
            else set()
        )
    narrative = None
    if stored is not None:
        text = NarrativeText.from_json(stored.sections or [], stored.claims or [])
        narrative = {"text": text.text, "superseded": stored.superseded_at is not None}
    return {
        "days": sorted(d.isoformat() for d in with_data),
        "narrative": narrative,
    }
