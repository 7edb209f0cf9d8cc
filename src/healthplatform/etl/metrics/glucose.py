"""Glucose (CGM) metrics for one local day.

Ranges follow the International Consensus on Time in Range (Battelino et al., Diabetes Care
2019;42:1593-1603), GMI follows Bergenstal et al. (Diabetes Care 2018;41:2275-2280).
Percentages are of readings; SD is the sample SD (n - 1).
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from healthplatform.etl.metrics.common import (
    DAY_MINUTES,
    HOUR_MS,
    MINUTE_MS,
    Json,
    Point,
    domain,
    episodes,
    hhmm,
    instant_on,
    median_interval_ms,
    num,
    of_type,
)
from healthplatform.etl.observations import Observation

RECORD = "BloodGlucoseRecord"
VERY_LOW, LOW, HIGH, VERY_HIGH = 54.0, 70.0, 180.0, 250.0
MIN_SUFFICIENCY_PCT = 70.0
CGM_MAX_INTERVAL_MIN = 15.0
EVENT_MIN_SPAN_MS = 15 * MINUTE_MS
EVENT_MAX_GAP_MS = 15 * MINUTE_MS
RISE_WINDOW_MS = 2 * HOUR_MS
OVERNIGHT_END_HOUR = 6
TREND_MIN_CHANGE = 20.0  # mg/dL over the covered span
MEALS = ("BREAKFAST", "LUNCH", "DINNER", "SNACK")
# None when the day is insufficient
CGM_KEYS = (
    "mean_mg_dl", "sd_mg_dl", "cv_pct", "gmi_pct", "tir_70_180_pct", "tbr_70_pct", "tbr_54_pct",
    "tar_180_pct", "tar_250_pct",
)  # fmt: skip


@dataclass(frozen=True)
class Reading(Point):
    """One glucose reading (value in mg/dL) with its meal tags."""

    meal_type: str = "UNKNOWN"
    relation: str = "UNKNOWN"


def readings_on(observations: Sequence[Observation], day: date) -> list[Reading]:
    found = [
        Reading(
            o.start_ms,
            value,
            o.offset_minutes,
            str(o.fields.get("mealType") or "UNKNOWN"),
            str(o.fields.get("relationToMeal") or "UNKNOWN"),
        )
        for o in of_type(observations, RECORD)
        if instant_on(o, day)
        and (value := num(o.fields.get("levelInMilligramsPerDeciliter"))) is not None
        and value > 0
    ]
    return sorted(found, key=lambda r: (r.ms, r.value))


def range_percentages(values: Sequence[float]) -> Json:
    """% of readings per consensus range; <54 is within <70 and >250 within >180."""
    n = len(values)
    below_54 = sum(1 for v in values if v < VERY_LOW)
    below_70 = sum(1 for v in values if v < LOW)
    above_180 = sum(1 for v in values if v > HIGH)
    above_250 = sum(1 for v in values if v > VERY_HIGH)
    in_range = n - below_70 - above_180
    return {
        "tir_70_180_pct": 100.0 * in_range / n,
        "tbr_70_pct": 100.0 * below_70 / n,
        "tbr_54_pct": 100.0 * below_54 / n,
        "tar_180_pct": 100.0 * above_180 / n,
        "tar_250_pct": 100.0 * above_250 / n,
    }


def gmi(mean_mg_dl: float) -> float:
    """Glucose Management Indicator (%) = 3.31 + 0.02392 x mean glucose (mg/dL)."""
    return 3.31 + 0.02392 * mean_mg_dl


def sufficiency(readings: Sequence[Reading]) -> Json:
    """Readings vs the count expected from the sensor's median sampling interval.

    The day length follows the offsets of the day's first and last reading (a 23 h day
    when clocks go forward).
    """
    interval = median_interval_ms(r.ms for r in readings)
    day_minutes = DAY_MINUTES - (readings[-1].offset - readings[0].offset)
    coverage: Json = {
        "readings": len(readings),
        "median_interval_min": None,
        "expected_readings": None,
        "sufficiency_pct": None,
        "day_minutes": day_minutes,
    }
    if interval is not None:
        expected = day_minutes * MINUTE_MS / interval
        coverage["median_interval_min"] = interval / MINUTE_MS
        coverage["expected_readings"] = round(expected)
        coverage["sufficiency_pct"] = min(100.0, 100.0 * len(readings) / expected)
    return coverage


def insufficiency_reason(coverage: Json) -> str | None:
    interval, pct = coverage["median_interval_min"], coverage["sufficiency_pct"]
    if interval is None:
        return "fewer than 2 distinct readings: the sampling interval is unknown"
    if interval > CGM_MAX_INTERVAL_MIN:
        return (
            f"readings too sparse for CGM metrics (median interval {interval:.0f} min, "
            f"at most {CGM_MAX_INTERVAL_MIN:.0f} min needed)"
        )
    if pct < MIN_SUFFICIENCY_PCT:
        return (
            f"{pct:.0f} % of expected readings ({coverage['readings']} of "
            f"{coverage['expected_readings']}), at least {MIN_SUFFICIENCY_PCT:.0f} % needed"
        )
    return None


def low_episodes(readings: Sequence[Reading], threshold: float) -> list[Json]:
    """Runs of readings below ``threshold`` spanning >= 15 min (consensus event length)."""
    return episodes(
        readings,
        lambda p: p.value < threshold,
        min_span_ms=EVENT_MIN_SPAN_MS,
        max_gap_ms=EVENT_MAX_GAP_MS,
        extreme=min,
    )


def overnight(readings: Sequence[Reading]) -> Json | None:
    """Readings from 00:00 to 06:00 local: lows and nadir; None without overnight data."""
    night = [r for r in readings if r.local.hour < OVERNIGHT_END_HOUR]
    if not night:
        return None
    nadir = min(night, key=lambda r: (r.value, r.ms))
    found = low_episodes(night, LOW)
    return {
        "readings": len(night),
        "below_70": sum(1 for r in night if r.value < LOW),
        "nadir_mg_dl": nadir.value,
        "nadir_time": hhmm(nadir.ms, nadir.offset),
        "low_episodes": found,
        "low_detected": bool(found),
    }


def post_meal(readings: Sequence[Reading]) -> Json | None:
    """Peaks within 2 h after meal-tagged readings; None when no reading is meal-tagged."""
    anchors = [
        r
        for r in readings
        if r.relation == "BEFORE_MEAL" or (r.meal_type in MEALS and r.relation != "AFTER_MEAL")
    ]
    after = [r for r in readings if r.relation == "AFTER_MEAL"]
    if not anchors and not after:
        return None
    peaks: list[Json] = []
    times = [r.ms for r in readings]  # readings are sorted by time
    values = [r.value for r in readings]
    for anchor in anchors:
        lo = bisect.bisect_right(times, anchor.ms)
        hi = bisect.bisect_right(times, anchor.ms + RISE_WINDOW_MS)
        if lo == hi:
            continue
        # the highest reading of the window, the earliest of equal ones
        peak = readings[values.index(max(values[lo:hi]), lo, hi)]
        peaks.append(
            {
                "meal": anchor.meal_type,
                "time": hhmm(anchor.ms, anchor.offset),
                "baseline_mg_dl": anchor.value,
                "peak_mg_dl": peak.value,
                "peak_time": hhmm(peak.ms, peak.offset),
                "rise_mg_dl": peak.value - anchor.value,
            }
        )
    return {
        "peaks": peaks,
        "after_meal_readings": len(after),
        "after_meal_max_mg_dl": max((r.value for r in after), default=None),
    }


def largest_rise(readings: Sequence[Reading]) -> Json | None:
    """The largest increase from one reading to a later one at most 2 h after it (the
    earliest such pair when several rise as much). Readings are sorted by time."""
    times = [r.ms for r in readings]
    values = [r.value for r in readings]
    best: tuple[float, int, int] | None = None
    for i, start in enumerate(values):
        end = bisect.bisect_right(times, times[i] + RISE_WINDOW_MS, i + 1)
        if end <= i + 1:
            continue
        top = max(values[i + 1 : end])
        rise = top - start
        if rise > 0 and (best is None or rise > best[0]):
            best = (rise, i, values.index(top, i + 1, end))
    if best is None:
        return None
    rise, low, high = best[0], readings[best[1]], readings[best[2]]
    return {
        "rise_mg_dl": rise,
        "from_mg_dl": low.value,
        "from_time": hhmm(low.ms, low.offset),
        "to_mg_dl": high.value,
        "to_time": hhmm(high.ms, high.offset),
    }


def trend(readings: Sequence[Reading]) -> Json | None:
    """Least-squares slope over the day; rising/falling when it implies >= 20 mg/dL."""
    if len(readings) < 3:
        return None
    hours = [(r.ms - readings[0].ms) / HOUR_MS for r in readings]
    if hours[-1] <= 0:
        return None
    slope = statistics.linear_regression(hours, [r.value for r in readings]).slope
    change = slope * hours[-1]
    direction = "stable"
    if change >= TREND_MIN_CHANGE:
        direction = "rising"
    elif change <= -TREND_MIN_CHANGE:
        direction = "falling"
    return {
        "slope_mg_dl_per_h": slope,
        "change_mg_dl": change,
        "span_h": hours[-1],
        "direction": direction,
    }


def glucose_day(observations: Sequence[Observation], day: date) -> Json | None:
    """Glucose metrics of the local ``day``; None when there is no reading that day."""
    readings = readings_on(observations, day)
    if not readings:
        return None
    values = [r.value for r in readings]
    coverage = sufficiency(readings)
    coverage["records"] = {RECORD: len(readings)}
    reason = insufficiency_reason(coverage)
    ok = reason is None
    cgm: Json = dict.fromkeys(CGM_KEYS)
    if ok:
        mean, sd = statistics.fmean(values), statistics.stdev(values)
        cgm.update(mean_mg_dl=mean, sd_mg_dl=sd, cv_pct=100.0 * sd / mean, gmi_pct=gmi(mean))
        cgm.update(range_percentages(values))
    return domain(
        ok,
        reason,
        coverage,
        readings_summary={
            "count": len(values),
            "min_mg_dl": min(values),
            "max_mg_dl": max(values),
            "mean_mg_dl": statistics.fmean(values),
        },
        **cgm,
        low_episodes=low_episodes(readings, LOW),
        very_low_episodes=low_episodes(readings, VERY_LOW),
        overnight=overnight(readings),
        post_meal=post_meal(readings),
        largest_rise_2h=largest_rise(readings),
        trend=trend(readings) if ok else None,
    )
