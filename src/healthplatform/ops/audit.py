"""Verifying what is stored: every published narrative's claims against the stored
observations (``healthplatform verify``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, union

from healthplatform.db.models import DailyMetrics, Narrative
from healthplatform.etl import observation_rows
from healthplatform.etl import repository as repo
from healthplatform.etl.metrics import SUMMARY_KEYS
from healthplatform.healthconnect.observations import local_day_bounds_ms
from healthplatform.runtime import Resources
from healthplatform.verify.check import Failure, Report, check, facts
from healthplatform.verify.claims import Claim

CHUNK_DAYS = 31


@dataclass
class Verified:
    report: Report = field(default_factory=Report)
    narratives: int = 0
    failed: list[tuple[str, Failure]] = field(default_factory=list)  # (narrative key, failure)


async def users_with_narratives(res: Resources) -> list[str]:
    async with res.engine.connect() as conn:
        rows = await conn.execute(union(select(Narrative.user_id), select(DailyMetrics.user_id)))
        return sorted(rows.scalars())


def _day_of(claim: Claim) -> date:
    """The day a claim describes: history claims end on it, the others start on it."""
    text = claim.window[1] if claim.metric.startswith("history.") else claim.window[0]
    return date.fromisoformat(text[:10])


async def verify_user(
    res: Resources, user: str, first: date | None, last: date | None, result: Verified
) -> None:
    """Check every claim of the user's published daily journals (and current upload
    narratives) describing days in [first, last]."""
    by_day: dict[date, list[tuple[str, Claim]]] = {}
    async with res.engine.connect() as conn:
        rows = await conn.execute(
            select(Narrative.key, Narrative.claims).where(
                Narrative.user_id == user,
                Narrative.status == "published",
                Narrative.superseded_at.is_(None),
            )
        )
        for key, claims in rows:
            result.narratives += 1
            for data in claims or []:
                claim = Claim.from_json(data)
                day = _day_of(claim)
                if (first is None or day >= first) and (last is None or day <= last):
                    by_day.setdefault(day, []).append((key, claim))
        days = sorted(by_day)
        for start in range(0, len(days), CHUNK_DAYS):
            chunk = days[start : start + CHUNK_DAYS]
            observations, _ = await observation_rows.load_window(
                conn, user, chunk[0] - timedelta(days=1), chunk[-1] + timedelta(days=1),
                set(SUMMARY_KEYS),
            )  # fmt: skip
            stored = await repo.load_days_around(conn, user, chunk[0], chunk[-1], 14)
            history = [(row.local_date, row.metrics) for row in stored]
            for day in chunk:
                height = await observation_rows.latest_height_m(
                    conn, user, local_day_bounds_ms(day, 14 * 60)[0]
                )
                known = facts(observations, day, height_m=height, history=_before(history, day))
                for key, claim in by_day[day]:
                    report = check([claim], known)
                    result.report.add(report)
                    result.failed += [(key, f) for f in report.failures]


def _before(history: Sequence[tuple[date, Any]], day: date) -> list[tuple[date, Any]]:
    return [h for h in history if h[0] < day]


async def verify_stored(
    res: Resources,
    users: Sequence[str],
    first: date | None = None,
    last: date | None = None,
    advance: Callable[[], None] | None = None,
) -> Verified:
    result = Verified()
    for user in users:
        await verify_user(res, user, first, last, result)
        if advance:
            advance()
    return result
