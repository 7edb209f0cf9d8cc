"""Trends: the main metrics of each day in a range, read from the stored day metrics.

Nothing is computed again: each value is the number the day's page, journal and claims
state (``daily_metrics.metrics``, one computation per day). A value the day's data cannot
support (a domain with too little data, a night without stages) is None, with the
domain's reason in ``notes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from healthplatform.db.models import DailyMetrics
from healthplatform.etl.narratives.journal import zone_label
from healthplatform.me.samples import sample_days
from healthplatform.runtime import Resources

MAX_DAYS = 366


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    unit: str
    domain: str
    path: tuple[str, ...]
    needs_ok: bool  # only from a day whose domain has enough data


SERIES: tuple[Series, ...] = (
    Series("steps", "Steps", "steps", "activity", ("steps", "total"), False),
    Series("sleep_min", "Main sleep", "min", "sleep", ("main", "tst_min"), False),
    Series(
        "bedtime_rel_min",
        "Bedtime",
        "min from midnight",
        "sleep",
        ("main", "bedtime_rel_min"),
        False,
    ),
    Series(
        "wake_rel_min", "Wake time", "min from midnight", "sleep", ("main", "wake_rel_min"), False
    ),
    Series("tir_pct", "Time in range 70-180 mg/dL", "%", "glucose", ("tir_70_180_pct",), True),
    Series("mean_glucose_mg_dl", "Mean glucose", "mg/dL", "glucose", ("mean_mg_dl",), True),
    Series("resting_hr_bpm", "Resting heart rate", "bpm", "heart", ("resting", "bpm"), False),
    Series("hrv_ms", "HRV (RMSSD), day mean", "ms", "heart", ("hrv", "mean_ms"), False),
)
TEXT: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "bedtime": ("sleep", ("main", "bedtime")),
    "wake_time": ("sleep", ("main", "wake_time")),
}


def _dig(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def day_values(metrics: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for series in SERIES:
        domain = metrics.get(series.domain)
        ok = isinstance(domain, dict) and domain.get("status", "ok") == "ok"
        if isinstance(domain, dict) and not ok:
            notes[series.domain] = str(domain.get("reason") or "insufficient data")
        values[series.key] = (
            None if series.needs_ok and not ok else _number(_dig(domain, series.path))
        )
    text: dict[str, str | None] = {}
    for key, (name, path) in TEXT.items():
        found = _dig(metrics.get(name), path)
        text[key] = found if isinstance(found, str) else None
    offset = int(context.get("offset_minutes") or 0)
    return {"zone": zone_label(offset), "values": values, "times": text, "notes": notes}


async def trends(res: Resources, user: str, start: date, end: date) -> dict[str, Any]:
    """Every day from ``start`` to ``end`` (inclusive) that has metrics, oldest first."""
    async with res.sessions() as session:
        rows = (
            await session.execute(
                select(DailyMetrics.local_date, DailyMetrics.metrics, DailyMetrics.context)
                .where(
                    DailyMetrics.user_id == user,
                    DailyMetrics.local_date >= start,
                    DailyMetrics.local_date <= end,
                )
                .order_by(DailyMetrics.local_date)
            )
        ).all()
        samples = await sample_days(session, user, start, end)
    days = [
        {
            "date": day.isoformat(),
            **day_values(metrics or {}, context or {}),
            "sample": day in samples,
        }
        for day, metrics, context in rows
    ]
    zones = sorted({d["zone"] for d in days})
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "zones": zones,
        "series": [
            {"key": s.key, "label": s.label, "unit": s.unit, "domain": s.domain} for s in SERIES
        ],
        "days": days,
    }
