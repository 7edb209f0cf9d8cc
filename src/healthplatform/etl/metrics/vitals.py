"""Vital signs for one local day: blood pressure (ACC/AHA 2017), SpO2, respiration, temperature."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import date

from healthplatform.etl.metrics.common import (
    MINUTE_MS,
    Json,
    Point,
    domain,
    hhmm,
    instant_records_on,
    instants_on,
    median_interval_ms,
    num,
    of_type,
    record_counts,
    series_metrics,
    series_summary,
)
from healthplatform.healthconnect.observations import Observation

BLOOD_PRESSURE = "BloodPressureRecord"
SPO2 = "OxygenSaturationRecord"
# record type -> (output key, field, unit)
SERIES: dict[str, tuple[str, str, str]] = {
    "RespiratoryRateRecord": ("respiratory_rate", "rate", "breaths/min"),
    "BodyTemperatureRecord": ("body_temperature", "temperatureInCelsius", "°C"),
    "BasalBodyTemperatureRecord": ("basal_body_temperature", "temperatureInCelsius", "°C"),
}
RECORD_TYPES = (BLOOD_PRESSURE, SPO2, *SERIES)
BP_CATEGORIES = ("normal", "elevated", "stage_1", "stage_2", "crisis")
SPO2_LOW = 90.0
SPO2_MAX_INTERVAL_MIN = 5.0  # regular enough to turn readings into minutes


def bp_category(systolic: float, diastolic: float) -> str:
    """ACC/AHA 2017: normal <120/<80; elevated 120-129/<80; stage 1 130-139 or 80-89;
    stage 2 >=140 or >=90; hypertensive crisis >180 and/or >120."""
    if systolic > 180 or diastolic > 120:
        return "crisis"
    if systolic >= 140 or diastolic >= 90:
        return "stage_2"
    if systolic >= 130 or diastolic >= 80:
        return "stage_1"
    if systolic >= 120:
        return "elevated"
    return "normal"


def _reading(ms: int, systolic: float, diastolic: float, offset: int) -> Json:
    return {
        "systolic_mmhg": systolic,
        "diastolic_mmhg": diastolic,
        "time": hhmm(ms, offset),
        "category": bp_category(systolic, diastolic),
    }


def blood_pressure(observations: Sequence[Observation]) -> Json | None:
    """Mean of the readings, and the two highest *real* readings: the one with the highest
    systolic (ties: higher diastolic, then earlier) and the one with the highest diastolic
    (ties: higher systolic, then earlier); never a pair assembled from two readings."""
    pairs = sorted(
        (o.start_ms, s, d, o.offset_minutes)
        for o in observations
        if (s := num(o.fields.get("systolic"))) is not None
        and (d := num(o.fields.get("diastolic"))) is not None
        and s > 0
        and d > 0
    )
    if not pairs:
        return None
    categories = [bp_category(s, d) for _, s, d, _ in pairs]
    mean_s = statistics.fmean(s for _, s, _, _ in pairs)
    mean_d = statistics.fmean(d for _, _, d, _ in pairs)
    by_systolic = max(pairs, key=lambda p: (p[1], p[2], -p[0]))
    by_diastolic = max(pairs, key=lambda p: (p[2], p[1], -p[0]))
    return {
        "readings": len(pairs),
        "mean_systolic_mmhg": mean_s,
        "mean_diastolic_mmhg": mean_d,
        "highest_systolic_reading": _reading(*by_systolic),
        "highest_diastolic_reading": _reading(*by_diastolic),
        "category_of_mean": bp_category(mean_s, mean_d),
        "highest_category": max(categories, key=BP_CATEGORIES.index),
        "category_counts": {c: categories.count(c) for c in BP_CATEGORIES if c in categories},
    }


def spo2(points: Sequence[Point]) -> Json:
    """SpO2 summary; minutes below 90 % only when sampling is regular (<= 5 min)."""
    summary = series_summary(points, "%")
    below = sum(1 for p in points if p.value < SPO2_LOW)
    interval = median_interval_ms(p.ms for p in points)
    regular = interval is not None and interval <= SPO2_MAX_INTERVAL_MIN * MINUTE_MS
    summary["readings_below_90"] = below
    summary["pct_readings_below_90"] = 100.0 * below / len(points)
    summary["minutes_below_90_estimate"] = (
        below * interval / MINUTE_MS if regular and interval is not None else None
    )
    return summary


def vitals_day(observations: Sequence[Observation], day: date) -> Json | None:
    """Vital-sign metrics of the local ``day``; None without any reading that day."""
    metrics: Json = {}
    contributing: list[Observation] = []
    bp_records = instant_records_on(of_type(observations, BLOOD_PRESSURE), day, "systolic")
    pressure = blood_pressure(bp_records)
    if pressure is not None:
        metrics["blood_pressure"] = pressure
        contributing += bp_records
    spo2_records = instant_records_on(of_type(observations, SPO2), day, "percentage")
    spo2_points = [p for p in instants_on(spo2_records, day, "percentage") if 0 < p.value <= 100]
    if spo2_points:
        metrics["spo2"] = spo2(spo2_points)
        contributing += spo2_records
    series, series_records = series_metrics(observations, day, SERIES)
    metrics.update(series)
    contributing += series_records
    if not metrics:
        return None
    return domain(True, None, {"records": record_counts(contributing)}, **metrics)
