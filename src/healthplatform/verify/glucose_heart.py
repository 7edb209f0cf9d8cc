"""Independent recomputation of glucose and heart values (flat paths -> values)."""

from __future__ import annotations

import bisect
import itertools
import math
from typing import Any

from healthplatform.healthconnect.observations import Observation
from healthplatform.verify.base import (
    MIN,
    Timed,
    clock,
    local_day,
    local_minute,
    mean,
    median,
    sample_sd,
    value,
)

Facts = dict[str, Any]


def glucose(obs: list[Observation], day: int) -> Facts:
    readings = [
        Timed(o.start_ms, v, o.offset_minutes)
        for o in obs
        if o.record_type == "BloodGlucoseRecord"
        and local_day(o.start_ms, o.offset_minutes) == day
        and (v := value(o.fields.get("levelInMilligramsPerDeciliter"))) is not None
        and v > 0
    ]
    readings.sort(key=lambda r: (r.ms, r.v))
    if not readings:
        return {}
    vals = [r.v for r in readings]
    n = len(vals)
    f: Facts = {
        "glucose.readings_summary.count": n,
        "glucose.coverage.readings": n,
        "glucose.readings_summary.min_mg_dl": min(vals),
        "glucose.readings_summary.max_mg_dl": max(vals),
        "glucose.readings_summary.mean_mg_dl": mean(vals),
    }
    times = sorted({r.ms for r in readings})
    gaps = [b - a for a, b in itertools.pairwise(times) if b - a >= 30_000]
    interval = median([float(g) for g in gaps]) if gaps else None
    ok = False
    if interval is not None:
        minutes = 1440 - (readings[-1].offset - readings[0].offset)
        expected = minutes * MIN / interval
        pct = min(100.0, 100.0 * n / expected)
        f["glucose.coverage.median_interval_min"] = interval / MIN
        f["glucose.coverage.expected_readings"] = round(expected)
        f["glucose.coverage.sufficiency_pct"] = pct
        ok = interval <= 15 * MIN and pct >= 70
    if ok:
        m, sd = mean(vals), sample_sd(vals)
        f.update(
            {
                "glucose.mean_mg_dl": m,
                "glucose.sd_mg_dl": sd,
                "glucose.cv_pct": 100 * sd / m,
                "glucose.tir_70_180_pct": 100 * sum(70 <= v <= 180 for v in vals) / n,
                "glucose.tbr_70_pct": 100 * sum(v < 70 for v in vals) / n,
                "glucose.tbr_54_pct": 100 * sum(v < 54 for v in vals) / n,
                "glucose.tar_180_pct": 100 * sum(v > 180 for v in vals) / n,
                "glucose.tar_250_pct": 100 * sum(v > 250 for v in vals) / n,
            }
        )
        f.update(_trend(readings))
    lows = _events(readings, 70, interval)
    f.update(_listed("glucose.low_episodes", lows))
    f["glucose.low_episodes.overnight_count"] = sum(int(e["start"][:2]) < 6 for e in lows)
    f["glucose.low_episodes.daytime_count"] = sum(int(e["start"][:2]) >= 6 for e in lows)
    f.update(_listed("glucose.very_low_episodes", _events(readings, 54, interval)))
    very = [r for r in readings if r.v < 54]
    if very:
        lowest = min(very, key=lambda r: (r.v, r.ms))
        f["glucose.readings_below_54.count"] = len(very)
        f["glucose.readings_below_54.lowest_mg_dl"] = lowest.v
        f["glucose.readings_below_54.lowest_time"] = clock(lowest.ms, lowest.offset)
    f.update(_rise(readings))
    f.update(_meals(obs, day, readings))
    return f


def _listed(prefix: str, items: list[dict[str, Any]]) -> Facts:
    out: Facts = {f"{prefix}.count": len(items)}
    for i, item in enumerate(items):
        for k, v in item.items():
            out[f"{prefix}.{i}.{k}"] = v
    return out


def _events(
    readings: list[Timed], threshold: float, interval: float | None
) -> list[dict[str, Any]]:
    """Consensus hypoglycaemia events: start after >= 15 min below the threshold, end after
    >= 15 min at or above 70 (each reading covering one sampling interval), or at a data
    gap of more than 15 min, or at the end of the day."""
    if interval is None or interval > 15 * MIN:
        return []
    k = math.ceil(15 * MIN / interval - 1e-9)
    n = len(readings)

    def run(first: int, ok: Any) -> bool:
        """readings[first:first+k] all satisfy ``ok`` with no gap over 15 min."""
        if first + k > n:
            return False
        block = readings[first : first + k]
        return all(ok(r.v) for r in block) and all(
            b.ms - a.ms <= 15 * MIN for a, b in itertools.pairwise(block)
        )

    out: list[dict[str, Any]] = []
    i = 0
    while i < n:
        if not run(i, lambda v: v < threshold):
            i += 1
            continue
        j, last_low, end_ms, ended = i + k, i + k - 1, None, "end of day"
        while j < n:
            if readings[j].ms - readings[j - 1].ms > 15 * MIN:
                ended = "data gap"
                break
            if run(j, lambda v: v >= 70):
                end_ms, ended = float(readings[j].ms), "recovered"
                break
            if readings[j].v < 70:
                last_low = j
            j += 1
        if end_ms is None:
            end_ms = readings[last_low].ms + interval
        members = readings[i:j]
        start = readings[i]
        out.append(
            {
                "start": clock(start.ms, start.offset),
                "end": clock(int(end_ms), start.offset),
                "minutes": (end_ms - start.ms) / MIN,
                "readings": len(members),
                "extreme": min(r.v for r in members if r.v < threshold),
                "ended": ended,
            }
        )
        i = j
    return out


def _trend(readings: list[Timed]) -> Facts:
    if len(readings) < 3:
        return {}
    xs = [(r.ms - readings[0].ms) / 3_600_000 for r in readings]
    if xs[-1] <= 0:
        return {}
    ys = [r.v for r in readings]
    mx, my = mean(xs), mean(ys)
    slope = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.fsum(
        (x - mx) ** 2 for x in xs
    )
    change = slope * xs[-1]
    direction = "rising" if change >= 20 else "falling" if change <= -20 else "stable"
    return {
        "glucose.trend.change_mg_dl": change,
        "glucose.trend.span_h": xs[-1],
        "glucose.trend.direction": direction,
    }


def _rise(readings: list[Timed]) -> Facts:
    best: tuple[float, int, int] | None = None
    for i, a in enumerate(readings):
        for j in range(i + 1, len(readings)):
            b = readings[j]
            if b.ms - a.ms > 2 * 3_600_000:
                break
            rise = b.v - a.v
            if rise > 0 and (best is None or rise > best[0]):
                best = (rise, i, j)
    if best is None:
        return {}
    rise, i, j = best
    # the earliest reading holding the window's top value
    top = max(r.v for r in readings[i + 1 :] if r.ms - readings[i].ms <= 2 * 3_600_000)
    j = next(k for k in range(i + 1, len(readings)) if readings[k].v == top)
    a, b = readings[i], readings[j]
    p = "glucose.largest_rise_2h"
    return {
        f"{p}.rise_mg_dl": rise,
        f"{p}.from_mg_dl": a.v,
        f"{p}.from_time": clock(a.ms, a.offset),
        f"{p}.to_mg_dl": b.v,
        f"{p}.to_time": clock(b.ms, b.offset),
        f"{p}.after_low": any(r.v < 70 and a.ms - 30 * MIN <= r.ms <= a.ms for r in readings),
    }


def _meals(obs: list[Observation], day: int, readings: list[Timed]) -> Facts:
    tagged = sorted(
        (o.start_ms, v, o.offset_minutes, str(o.fields.get("mealType") or "UNKNOWN"),
         str(o.fields.get("relationToMeal") or "UNKNOWN"))
        for o in obs
        if o.record_type == "BloodGlucoseRecord"
        and local_day(o.start_ms, o.offset_minutes) == day
        and (v := value(o.fields.get("levelInMilligramsPerDeciliter"))) is not None
        and v > 0
    )  # fmt: skip
    meals = ("BREAKFAST", "LUNCH", "DINNER", "SNACK")
    anchors = [
        t for t in tagged if t[4] == "BEFORE_MEAL" or (t[3] in meals and t[4] != "AFTER_MEAL")
    ]
    times = [r.ms for r in readings]
    out: Facts = {}
    k = 0
    for ms, v, offset, _, _ in anchors:
        later = readings[
            bisect.bisect_right(times, ms) : bisect.bisect_right(times, ms + 7_200_000)
        ]
        if not later:
            continue
        peak = max(later, key=lambda r: (r.v, -r.ms))
        p = f"glucose.post_meal.peaks.{k}"
        out.update(
            {
                f"{p}.time": clock(ms, offset),
                f"{p}.peak_mg_dl": peak.v,
                f"{p}.peak_time": clock(peak.ms, peak.offset),
                f"{p}.rise_mg_dl": peak.v - v,
            }
        )
        k += 1
    return out


def heart(obs: list[Observation], day: int) -> Facts:
    samples: list[Timed] = []
    for o in obs:
        if o.record_type != "HeartRateRecord":
            continue
        for s in o.fields.get("samples") or []:
            if not isinstance(s, dict) or type(s.get("timeEpochMillis")) is not int:
                continue
            v = value(s.get("beatsPerMinute"))
            if v is not None and v > 0 and local_day(s["timeEpochMillis"], o.offset_minutes) == day:
                samples.append(Timed(s["timeEpochMillis"], v, o.offset_minutes))
    samples.sort(key=lambda t: (t.ms, t.v))
    f: Facts = {}
    hours = len({local_minute(t.ms, t.offset) // 60 for t in samples})
    f["heart.coverage.hours_with_samples"] = hours
    if samples:
        vals = [t.v for t in samples]
        f.update(
            {
                "heart.heart_rate.samples": len(vals),
                "heart.heart_rate.min_bpm": min(vals),
                "heart.heart_rate.max_bpm": max(vals),
                "heart.heart_rate.mean_bpm": mean(vals),
            }
        )
    resting = [
        v
        for o in obs
        if o.record_type == "RestingHeartRateRecord"
        and local_day(o.start_ms, o.offset_minutes) == day
        and (v := value(o.fields.get("beatsPerMinute"))) is not None
        and v > 0
    ]
    if resting:
        f["heart.resting.bpm"] = mean(resting)
    elif hours >= 12 and len(samples) >= 50:
        lowest = sorted(t.v for t in samples)[: math.ceil(len(samples) / 10)]
        f["heart.resting.bpm"] = mean(lowest)
    hrv = [
        v
        for o in obs
        if o.record_type == "HeartRateVariabilityRmssdRecord"
        and local_day(o.start_ms, o.offset_minutes) == day
        and (v := value(o.fields.get("heartRateVariabilityRmssd"))) is not None
        and v > 0
    ]
    if hrv:
        f.update(
            {
                "heart.hrv.readings": len(hrv),
                "heart.hrv.mean_ms": mean(hrv),
                "heart.hrv.median_ms": median(hrv),
            }
        )
    exercise = [
        (o.start_ms, o.end_ms + 15 * MIN) for o in obs if o.record_type == "ExerciseSessionRecord"
    ]
    f.update(_listed("heart.elevated_episodes", _elevated(samples, exercise)))
    return f


def _elevated(samples: list[Timed], exercise: list[tuple[int, int]]) -> list[dict[str, Any]]:
    runs: list[list[Timed]] = [[]]
    for t in samples:
        member = t.v > 100 and not any(a <= t.ms <= b for a, b in exercise)
        if not member:
            runs.append([])
            continue
        if runs[-1] and t.ms - runs[-1][-1].ms > 5 * MIN:
            runs.append([])
        runs[-1].append(t)
    return [
        {
            "start": clock(r[0].ms, r[0].offset),
            "end": clock(r[-1].ms, r[-1].offset),
            "minutes": (r[-1].ms - r[0].ms) / MIN,
            "readings": len(r),
            "extreme": max(t.v for t in r),
        }
        for r in runs
        if r and r[-1].ms - r[0].ms >= 10 * MIN
    ]
