"""Heart metrics for one local day: heart-rate profile, resting rate, elevated episodes, HRV."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import date

from healthplatform.etl.metrics.activity import EXERCISE
from healthplatform.etl.metrics.common import (
    HOUR_MS,
    MINUTE_MS,
    Json,
    Point,
    domain,
    episodes,
    instants_on,
    of_type,
    samples_on,
)
from healthplatform.healthconnect.observations import Observation

HEART_RATE, RESTING, HRV = (
    "HeartRateRecord",
    "RestingHeartRateRecord",
    "HeartRateVariabilityRmssdRecord",
)
MIN_HOURS = 12  # local hours with >= 1 sample for a daily profile
MIN_SAMPLES_FOR_RESTING = 50
ELEVATED_BPM = 100.0
ELEVATED_MIN_SPAN_MS = 10 * MINUTE_MS
ELEVATED_MAX_GAP_MS = 5 * MINUTE_MS
RECOVERY_MS = 15 * MINUTE_MS  # after an exercise session, still treated as exercise
BASELINE_MIN_DAYS = 3


def hr_samples(observations: Sequence[Observation], day: date) -> tuple[list[Point], int]:
    """Heart-rate samples on ``day`` (sorted) and the number of records they came from."""
    points: list[Point] = []
    records = 0
    for obs in of_type(observations, HEART_RATE):
        found = [p for p in samples_on(obs, day, "beatsPerMinute") if p.value > 0]
        records += bool(found)
        points.extend(found)
    return sorted(points, key=lambda p: (p.ms, p.value)), records


def exercise_windows(observations: Sequence[Observation]) -> list[tuple[int, int]]:
    """[start, end + 15 min recovery] of every exercise session given."""
    return sorted((o.start_ms, o.end_ms + RECOVERY_MS) for o in of_type(observations, EXERCISE))


def lowest_decile_mean(values: Sequence[float]) -> float:
    """Mean of the lowest ceil(n / 10) values."""
    lowest = sorted(values)[: math.ceil(len(values) / 10)]
    return statistics.fmean(lowest)


def elevated_episodes(samples: Sequence[Point], windows: Sequence[tuple[int, int]]) -> list[Json]:
    """Runs of samples above 100 bpm (tachycardia) spanning >= 10 min, outside exercise
    (+15 min) windows.

    Consecutive samples more than 5 min apart break a run, so sparse sampling cannot
    produce an episode.
    """

    def member(p: Point) -> bool:
        return p.value > ELEVATED_BPM and not any(lo <= p.ms <= hi for lo, hi in windows)

    return episodes(
        samples,
        member,
        min_span_ms=ELEVATED_MIN_SPAN_MS,
        max_gap_ms=ELEVATED_MAX_GAP_MS,
        extreme=max,
    )


def hrv_trend(today: float, previous: Sequence[float]) -> Json:
    """Today's RMSSD vs the baseline (mean +/- 1 sample SD) of previous days' values."""
    values = [v for v in previous if math.isfinite(v)]
    if len(values) < BASELINE_MIN_DAYS:
        return {
            "status": "insufficient data",
            "reason": f"{len(values)} baseline day(s), at least {BASELINE_MIN_DAYS} needed",
            "baseline_days": len(values),
        }
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    if today < mean - sd:
        direction = "below"
    elif today > mean + sd:
        direction = "above"
    else:
        direction = "within"
    return {
        "status": "ok",
        "reason": None,
        "baseline_days": len(values),
        "baseline_mean_ms": mean,
        "baseline_sd_ms": sd,
        "delta_ms": today - mean,
        "delta_pct": 100.0 * (today - mean) / mean if mean else None,
        "direction": direction,
    }


def _resting(rhr: Sequence[Point], samples: Sequence[Point], profile_ok: bool) -> Json | None:
    if rhr:
        return {
            "bpm": statistics.fmean(p.value for p in rhr),
            "method": "RestingHeartRateRecord",
            "is_estimate": False,
            "readings": len(rhr),
        }
    if profile_ok and len(samples) >= MIN_SAMPLES_FOR_RESTING:
        return {
            "bpm": lowest_decile_mean([p.value for p in samples]),
            "method": "lowest-decile estimate",
            "is_estimate": True,
            "readings": math.ceil(len(samples) / 10),
        }
    return None


def _hrv(points: Sequence[Point], previous: Sequence[float] | None) -> Json | None:
    if not points:
        return None
    values = [p.value for p in points]
    mean = statistics.fmean(values)
    return {
        "unit": "ms",
        "readings": len(values),
        "mean_ms": mean,
        "median_ms": float(statistics.median(values)),
        "min_ms": min(values),
        "max_ms": max(values),
        "trend": hrv_trend(mean, previous) if previous is not None else None,
    }


def heart_day(
    observations: Sequence[Observation], day: date, hrv_previous: Sequence[float] | None = None
) -> Json | None:
    """Heart metrics of the local ``day``; None without any heart data that day."""
    samples, hr_records = hr_samples(observations, day)
    rhr = [
        p for p in instants_on(of_type(observations, RESTING), day, "beatsPerMinute") if p.value > 0
    ]
    hrv = [
        p
        for p in instants_on(of_type(observations, HRV), day, "heartRateVariabilityRmssd")
        if p.value > 0
    ]
    if not samples and not rhr and not hrv:
        return None
    hours = len({(p.ms + p.offset * MINUTE_MS) // HOUR_MS % 24 for p in samples})
    ok = hours >= MIN_HOURS
    reason = (
        f"heart-rate samples cover {hours} of 24 hours, at least {MIN_HOURS} needed"
        if samples
        else "no heart-rate samples"
    )
    records = {HEART_RATE: hr_records, HRV: len(hrv), RESTING: len(rhr)}
    coverage: Json = {
        "records": {k: v for k, v in sorted(records.items()) if v},
        "samples": len(samples),
        "hours_with_samples": hours,
        "pct_hours": 100.0 * hours / 24,
    }
    values = [p.value for p in samples]
    profile = (
        {
            "samples": len(values),
            "min_bpm": min(values),
            "mean_bpm": statistics.fmean(values),
            "max_bpm": max(values),
        }
        if values
        else None
    )
    return domain(
        ok,
        reason,
        coverage,
        heart_rate=profile,
        resting=_resting(rhr, samples, ok),
        elevated_episodes=elevated_episodes(samples, exercise_windows(observations)),
        hrv=_hrv(hrv, hrv_previous),
    )
