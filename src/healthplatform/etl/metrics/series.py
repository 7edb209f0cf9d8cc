"""The day view's chart series, from the same records and rules as the day's metrics.

Every chart is drawn from what the metric counted: the glucose readings of the day, the
heart-rate samples, the kept sleep sessions' stages, the activity pieces left after overlap
resolution (so the hourly bars add up to the day's total). Times are minutes since local
midnight of the day, each point at its record's own placed offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from healthplatform.etl.metrics import activity, glucose, heart, sleep
from healthplatform.etl.metrics.common import (
    Json,
    canonical,
    end_offset,
    instants_on,
    local_date,
    minutes_from_midnight,
    of_type,
)
from healthplatform.healthconnect.observations import Observation

HOURLY = {
    "steps": ("StepsRecord", "count"),
    "active_kcal": ("ActiveCaloriesBurnedRecord", "energyInKilocalories"),
}


def _minute(ms: int, offset: int, day: date) -> float:
    return round(minutes_from_midnight(ms, offset, day), 2)


def _hourly(observations: Sequence[Observation], day: date, record_type: str, field: str) -> Json:
    """The counted pieces spread over the 24 local hours in proportion to their overlap,
    and the pieces themselves (a record spanning many hours is one long span, not a
    measurement of each hour: ``spread`` says the hourly values are an even spread)."""
    _, used = activity.counted_pieces(of_type(observations, record_type), day, field)
    hours = [0.0] * 24
    spans: list[dict[str, Any]] = []
    for piece in used:
        offset = piece.obs.offset_minutes
        start = minutes_from_midnight(piece.start_ms, offset, day)
        end = minutes_from_midnight(piece.end_ms, offset, day)
        amount = activity.share(piece, field)
        spans.append({"start": round(start, 2), "end": round(end, 2), "value": amount})
        length = max(end - start, 1e-9)
        for hour in range(24):
            overlap = min(end, (hour + 1) * 60) - max(start, hour * 60)
            if overlap > 0 or (end == start and hour * 60 <= start < (hour + 1) * 60):
                hours[hour] += amount * (overlap / length if end > start else 1.0)
    return {
        "hourly": hours,
        "spans": sorted(spans, key=lambda s: (s["start"], s["end"])),
        "spread": any(s["end"] - s["start"] > 60 for s in spans),
    }


def _sleep(observations: Sequence[Observation], day: date) -> list[dict[str, Any]]:
    sessions = [
        o
        for o in of_type(observations, sleep.RECORD)
        if o.end_ms > o.start_ms and local_date(o.end_ms, end_offset(o)) == day
    ]
    stages: list[dict[str, Any]] = []
    for session in sleep.kept_sessions(sessions):
        for start, end, name in sleep.segments(session):
            stages.append(
                {
                    "start": _minute(start, session.offset_minutes, day),
                    "end": _minute(end, session.offset_minutes, day),
                    "stage": name,
                }
            )
    return sorted(stages, key=lambda s: (s["start"], s["end"]))


def day_series(observations: Sequence[Observation], day: date) -> Json:
    """Every series the day view plots, counted exactly as the day's metrics count."""
    obs = canonical(observations)
    readings = glucose.readings_on(obs, day)
    samples, _ = heart.hr_samples(obs, day)
    hrv = [
        p
        for p in instants_on(of_type(obs, heart.HRV), day, "heartRateVariabilityRmssd")
        if p.value > 0
    ]
    out: Json = {
        "glucose_mg_dl": [[_minute(r.ms, r.offset, day), r.value] for r in readings],
        "heart_rate_bpm": [[_minute(p.ms, p.offset, day), p.value] for p in samples],
        "hrv_ms": [[_minute(p.ms, p.offset, day), p.value] for p in hrv],
        "sleep_stages": _sleep(obs, day),
    }
    for key, (record_type, field) in HOURLY.items():
        found = _hourly(obs, day, record_type, field)
        out[f"{key}_hourly"] = found["hourly"]
        out[f"{key}_spans"] = found["spans"]
        out[f"{key}_spread"] = found["spread"]
    return out
