"""Series for the day view's plots, built from the stored observations of one local day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from healthplatform.db.models import DailyMetrics, Narrative
from healthplatform.db.models import Observation as Row
from healthplatform.etl.metrics.common import best_non_overlapping, day_piece, num
from healthplatform.etl.metrics.sleep import kept_sessions
from healthplatform.etl.observations import Observation, local_time
from healthplatform.runtime import Resources
from healthplatform.uploads.service import user_key

PLOTTED = (
    "BloodGlucoseRecord",
    "HeartRateRecord",
    "SleepSessionRecord",
    "StepsRecord",
    "ActiveCaloriesBurnedRecord",
    "TotalCaloriesBurnedRecord",
)


def _minute(moment: datetime, day: date) -> float:
    """Minutes since local midnight of ``day`` (may fall outside 0..1440)."""
    return (moment - datetime(day.year, day.month, day.day)).total_seconds() / 60


def _observation(row: Row) -> Observation:
    return Observation(
        row.record_type,
        row.hc_id,
        row.start_ms,
        row.end_ms,
        row.offset_minutes,
        row.fields,
        row.last_modified_ms,
        row.offset_known,
        row.end_offset_minutes,
    )


def _counted(rows: list[Row], day: date, field: str) -> list[Row]:
    """The records the day's metric counts: overlapping records from two apps are resolved
    exactly as the activity metrics resolve them, so the plot adds up to the metric."""
    pieces = [
        p
        for p in (
            day_piece(_observation(r), day) for r in rows if num(r.fields.get(field)) is not None
        )
        if p is not None
    ]
    used = {
        p.obs.hc_id
        for p in best_non_overlapping(pieces, lambda p: float(p.obs.fields[field]) * p.fraction)
    }
    return [r for r in rows if r.hc_id in used]


def _hourly(rows: list[Row], day: date, field: str) -> list[float]:
    """Interval totals spread over the day's 24 local hours in proportion to overlap."""
    hours = [0.0] * 24
    for row in _counted(rows, day, field):
        value = row.fields.get(field)
        if not isinstance(value, int | float):
            continue
        start = _minute(local_time(row.start_ms, row.offset_minutes), day)
        end = _minute(
            local_time(
                row.end_ms,
                row.end_offset_minutes
                if row.end_offset_minutes is not None
                else row.offset_minutes,
            ),
            day,
        )
        span = max(end - start, 1e-9)
        for hour in range(24):
            overlap = min(end, (hour + 1) * 60) - max(start, hour * 60)
            if overlap > 0:
                hours[hour] += value * overlap / span
    return [round(h, 3) for h in hours]


def build_series(rows: list[Row], day: date) -> dict[str, Any]:
    by_type: dict[str, list[Row]] = {}
    for row in rows:
        by_type.setdefault(row.record_type, []).append(row)
    glucose = []
    for row in by_type.get("BloodGlucoseRecord", []):
        minute = _minute(local_time(row.start_ms, row.offset_minutes), day)
        value = row.fields.get("levelInMilligramsPerDeciliter")
        if 0 <= minute < 1440 and isinstance(value, int | float):
            glucose.append([round(minute, 2), value])
    heart = []
    for row in by_type.get("HeartRateRecord", []):
        for sample in row.fields.get("samples") or []:
            minute = _minute(local_time(sample["timeEpochMillis"], row.offset_minutes), day)
            if 0 <= minute < 1440:
                heart.append([round(minute, 2), sample["beatsPerMinute"]])
    sleep = []
    nights = [
        r
        for r in by_type.get("SleepSessionRecord", [])
        if local_time(
            r.end_ms, r.end_offset_minutes if r.end_offset_minutes is not None else r.offset_minutes
        ).date()
        == day
    ]  # a night ends on its day
    # overlapping sessions from two apps: plot the one the sleep metrics use
    kept = {o.hc_id for o in kept_sessions([_observation(r) for r in nights])}
    for row in nights:
        if row.hc_id not in kept:
            continue
        for stage in row.fields.get("stages") or []:
            sleep.append(
                {
                    "start": round(
                        _minute(local_time(stage["startTimeEpochMillis"], row.offset_minutes), day),
                        2,
                    ),
                    "end": round(
                        _minute(local_time(stage["endTimeEpochMillis"], row.offset_minutes), day), 2
                    ),
                    "stage": stage["stage"],
                }
            )
    calories = _hourly(by_type.get("ActiveCaloriesBurnedRecord", []), day, "energyInKilocalories")
    return {
        "glucose_mg_dl": sorted(glucose),
        "heart_rate_bpm": sorted(heart),
        "sleep_stages": sorted(sleep, key=lambda s: s["start"]),
        "steps_hourly": _hourly(by_type.get("StepsRecord", []), day, "count"),
        "active_kcal_hourly": calories,
    }


async def day_view(res: Resources, subject: str, day: date) -> dict[str, Any] | None:
    user = user_key(subject)
    async with res.sessions() as session:
        metrics = await session.get(DailyMetrics, (user, day))
        journal = (
            await session.execute(
                select(Narrative).where(
                    Narrative.user_id == user,
                    Narrative.kind == "daily",
                    Narrative.local_date == day,
                )
            )
        ).scalar_one_or_none()
        rows = list(
            (
                await session.execute(
                    select(Row).where(
                        Row.user_id == user,
                        Row.record_type.in_(PLOTTED),
                        Row.local_date <= day + timedelta(days=1),
                        Row.end_local_date >= day - timedelta(days=1),
                    )
                )
            ).scalars()
        )
    if metrics is None and not rows:
        return None
    return {
        "date": day.isoformat(),
        "metrics": metrics.metrics if metrics else {},
        "journal": None
        if journal is None
        else {
            "statistical": journal.statistical,
            "structural": journal.structural,
            "semantic": journal.semantic,
        },
        "series": build_series(rows, day),
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
