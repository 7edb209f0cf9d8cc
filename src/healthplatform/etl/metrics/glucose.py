"""Glucose (CGM) metrics for one local day.

Ranges follow the International Consensus on Time in Range (Battelino et al., Diabetes Care
2019;42:1593-1603), GMI follows Bergenstal et al. (Diabetes Care 2018;41:2275-2280).
Percentages are of readings; SD is the sample SD (n - 1).
"""

from __future__ import annotations

import bisect
import math
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
    hhmm,
    instant_on,
    median_interval_ms,
    num,
    of_type,
)
from healthplatform.healthconnect.observations import Observation

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
    "mean_mg_dl", "sd_mg_dl", "cv_pct", "tir_70_180_pct", "tbr_70_pct", "tbr_54_pct",
    "tar_180_pct", "tar_250_pct",
)  # fmt: skip
REBOUND_WINDOW_MS = 30 * MINUTE_MS  # a rise starting this soon after a low is a rebound


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


def hypo_events(
    readings: Sequence[Reading], threshold: float, interval_ms: float | None
) -> list[Json]:
    """CGM hypoglycaemia events below ``threshold`` (consensus definition).

    Each reading covers one sampling interval (the day's median). An event begins with
    readings below ``threshold`` covering >= 15 consecutive minutes and ends when readings
    at or above 70 mg/dL cover >= 15 consecutive minutes (the event ends at the first of
    them); a gap of more than 15 min between readings, or the end of the day, ends it at
    the end of the last low reading's interval. Without CGM sampling (median interval over
    15 min or unknown) there are no events.
    """
    if interval_ms is None or interval_ms > CGM_MAX_INTERVAL_MIN * MINUTE_MS:
        return []
    needed = max(1, math.ceil(EVENT_MIN_SPAN_MS / interval_ms - 1e-9))
    found: list[Json] = []
    below: list[Reading] = []  # the current run of low readings (not yet an event)
    event: list[Reading] = []  # readings of the event in progress
    recovery: list[Reading] = []  # the current run of readings >= 70 inside an event
    previous: Reading | None = None

    def close(end_ms: float, ended: str) -> None:
        low = [r for r in event if r.value < threshold]
        found.append(
            {
                "start": hhmm(event[0].ms, event[0].offset),
                "end": hhmm(int(end_ms), event[0].offset),
                "minutes": (end_ms - event[0].ms) / MINUTE_MS,
                "readings": len(event),
                "extreme": min(r.value for r in low),
                "ended": ended,
            }
        )
        event.clear()
        recovery.clear()

    for reading in readings:
        if previous is not None and reading.ms - previous.ms > EVENT_MAX_GAP_MS:
            if event:  # data gap: the event ends with the last reading below 70
                last_low = max(r.ms for r in event if r.value < LOW)
                close(last_low + interval_ms, "data gap")
            below.clear()
        previous = reading
        if not event:
            below = [*below, reading] if reading.value < threshold else []
            if len(below) >= needed:
                event.extend(below)
                below = []
            continue
        if reading.value >= LOW:
            recovery.append(reading)
            if len(recovery) >= needed:
                first = recovery[0]
                event[:] = [r for r in event if r.ms < first.ms]
                close(first.ms, "recovered")
            else:
                event.append(reading)
        else:
            recovery.clear()
            event.append(reading)
    if event:
        last_low = max(r.ms for r in event if r.value < LOW)
        close(last_low + interval_ms, "end of day")
    return found


def low_readings(readings: Sequence[Reading], threshold: float) -> Json | None:
    """Every reading below ``threshold`` (events or not): count and the lowest."""
    low = [r for r in readings if r.value < threshold]
    if not low:
        return None
    lowest = min(low, key=lambda r: (r.value, r.ms))
    return {
        "count": len(low),
        "lowest_mg_dl": lowest.value,
        "lowest_time": hhmm(lowest.ms, lowest.offset),
    }


def overnight(readings: Sequence[Reading], events: Sequence[Json]) -> Json | None:
    """Readings from 00:00 to 06:00 local and the low events that began then; None without
    overnight data."""
    night = [r for r in readings if r.local.hour < OVERNIGHT_END_HOUR]
    if not night:
        return None
    nadir = min(night, key=lambda r: (r.value, r.ms))
    found = [e for e in events if int(e["start"][:2]) < OVERNIGHT_END_HOUR]
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
    earliest such pair when several rise as much). Readings are sorted by time.

    ``after_low`` is True when the rise starts below 70 mg/dL or within 30 min after a
    reading below 70: a rebound from a low, not a meal."""
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
    after_low = any(
        r.value < LOW and low.ms - REBOUND_WINDOW_MS <= r.ms <= low.ms for r in readings
    )
    return {
        "rise_mg_dl": rise,
        "from_mg_dl": low.value,
        "from_time": hhmm(low.ms, low.offset),
        "to_mg_dl": high.value,
        "to_time": hhmm(high.ms, high.offset),
        "after_low": after_low,
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
        cgm.update(mean_mg_dl=mean, sd_mg_dl=sd, cv_pct=100.0 * sd / mean)
        cgm.update(range_percentages(values))
    interval = coverage["median_interval_min"]
    interval_ms = interval * MINUTE_MS if interval is not None else None
    lows = hypo_events(readings, LOW, interval_ms)
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
        low_episodes=lows,
        very_low_episodes=hypo_events(readings, VERY_LOW, interval_ms),
        readings_below_54=low_readings(readings, VERY_LOW),
        overnight=overnight(readings, lows),
        post_meal=post_meal(readings),
        largest_rise_2h=largest_rise(readings),
        trend=trend(readings) if ok else None,
    )
