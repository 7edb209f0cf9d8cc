"""The verifier's own building blocks: local days, deduplication, numbers, its own copy of
the definitions' thresholds.

Nothing here imports the metric or narrative code: the verifier recomputes every claimed
value its own way from the stored observations and must not share a bug with them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from healthplatform.healthconnect.observations import Observation

DAY = 86_400_000
MIN = 60_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# The thresholds the narratives may state, as the verifier knows them (docs/metrics.md).
CONSTANTS: dict[str, float] = {
    "glucose.low": 70,
    "glucose.high": 180,
    "glucose.very_low": 54,
    "glucose.very_high": 250,
    "glucose.cgm_max_interval": 15,
    "glucose.min_sufficiency": 70,
    "glucose.event_minutes": 15,
    "glucose.rise_window": 120,
    "glucose.tbr70_target": 4,
    "glucose.tbr54_target": 1,
    "glucose.tar180_target": 25,
    "glucose.tar250_target": 5,
    "glucose.cv_high": 36,
    "glucose.target_days": 14,
    "heart.day_hours": 24,
    "heart.min_hours": 12,
    "heart.tachycardia": 100,
    "heart.elevated_minutes": 10,
    "sleep.min_scored": 50,
    "sleep.min_awakening": 5,
    "sleep.recommended": 420,
    "sleep.efficiency_reference": 85,
    "vitals.spo2_low": 90,
    "vitals.crisis_systolic": 180,
    "vitals.crisis_diastolic": 120,
    "history.min_days": 3,
}


def day_number(day: date) -> int:
    return day.toordinal() - EPOCH_ORDINAL


def local_day(ms: int, offset_min: int) -> int:
    """Days since 1970-01-01 of the local date of an instant."""
    return (ms + offset_min * MIN) // DAY


def local_minute(ms: int, offset_min: int) -> int:
    """Minute of the local day (0..1439) of an instant."""
    return ((ms + offset_min * MIN) % DAY) // MIN


def clock(ms: int, offset_min: int) -> str:
    minute = local_minute(ms, offset_min)
    return f"{minute // 60:02d}:{minute % 60:02d}"


def end_offset(o: Observation) -> int:
    return o.end_offset_minutes if o.end_offset_minutes is not None else o.offset_minutes


def value(x: Any) -> float | None:
    """A finite number (not a bool) as float."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def unique(observations: Iterable[Observation]) -> list[Observation]:
    """One version per (type, id): newest lastModified, then the larger content hash."""
    kept: dict[tuple[str, str], Observation] = {}
    for o in observations:
        key = (o.record_type, o.hc_id)
        old = kept.get(key)
        if old is None or (o.last_modified_ms, o.content_hash) > (
            old.last_modified_ms,
            old.content_hash,
        ):
            kept[key] = o
    return sorted(kept.values(), key=lambda o: (o.start_ms, o.record_type, o.hc_id))


def mean(xs: list[float]) -> float:
    return math.fsum(xs) / len(xs)


def sample_sd(xs: list[float]) -> float:
    m = mean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


@dataclass(frozen=True)
class Timed:
    ms: int
    v: float
    offset: int
