"""A synthetic person with a dense year, as their phone would upload it: one file per
record type per day (for benchmarks and load tests).

A day: CGM every 5 min (stamped ``Z`` by its app, like the real Dexcom app), heart rate
every minute (one record an hour), hourly steps and active energy, a night of sleep with
stage cycles, HRV and SpO2 through the night, two blood-pressure readings, and exercise
every other day. The other apps write the person's offset. Deterministic per seed.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import fastavro

from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_records

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
OFFSET = "-05:00"  # the person's zone (no DST: a fixed offset keeps the benchmark simple)
OFFSET_MIN = -300
CGM_APP, PHONE_APP, RING_APP = (
    "com.dexcom.stelo",
    "com.sec.android.app.shealth",
    "com.ouraring.oura",
)
TYPES = (
    "BloodGlucoseRecord",
    "HeartRateRecord",
    "StepsRecord",
    "ActiveCaloriesBurnedRecord",
    "SleepSessionRecord",
    "HeartRateVariabilityRmssdRecord",
    "OxygenSaturationRecord",
    "BloodPressureRecord",
    "ExerciseSessionRecord",
)


def _midnight(day: date) -> int:
    """Epoch ms of local midnight of ``day`` at the person's offset."""
    return (day - date(1970, 1, 1)).days * DAY - OFFSET_MIN * MIN


def _base(record_type: str, count: int, seed: int, origin: str) -> list[dict[str, Any]]:
    records = synthetic_records(record_type, count, seed=seed)
    for r in records:
        r["metadata"]["dataOriginPackageName"] = origin
        r["metadata"]["lastModifiedTimeEpochMillis"] = 1_700_000_000_000
    return records


def _instant(r: dict[str, Any], ms: int, offset: str) -> None:
    r["timeEpochMillis"] = ms
    r["zoneOffsetId"] = offset


def _interval(r: dict[str, Any], start: int, end: int) -> None:
    r["startTimeEpochMillis"], r["endTimeEpochMillis"] = start, end
    r["startZoneOffsetId"] = r["endZoneOffsetId"] = OFFSET


def day_records(day: date, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Every record of one local day, by type."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    t0 = _midnight(day)
    key = day.toordinal() * 100 + seed
    out: dict[str, list[dict[str, Any]]] = {}

    glucose = _base("BloodGlucoseRecord", 288, key, CGM_APP)
    for i, r in enumerate(glucose):
        hour = i / 12
        meals = sum(45 * math.exp(-(((hour - m) / 1.2) ** 2)) for m in (7.5, 12.5, 19))
        _instant(r, t0 + i * 5 * MIN, "Z")
        r["levelInMilligramsPerDeciliter"] = round(95 + meals + rng.gauss(0, 6), 1)
        r["mealType"], r["relationToMeal"], r["specimenSource"] = (
            "UNKNOWN",
            "UNKNOWN",
            "INTERSTITIAL_FLUID",
        )
    out["BloodGlucoseRecord"] = glucose

    heart = _base("HeartRateRecord", 24, key + 1, PHONE_APP)
    for h, r in enumerate(heart):
        _interval(r, t0 + h * HOUR, t0 + h * HOUR + 59 * MIN)
        base = 58 if h < 7 else 72 + 10 * math.sin(h / 24 * math.pi)
        r["samples"] = [
            {
                "timeEpochMillis": t0 + h * HOUR + m * MIN,
                "beatsPerMinute": int(base + rng.gauss(0, 4)),
            }
            for m in range(60)
        ]
    out["HeartRateRecord"] = heart

    for record_type, field, scale in (
        ("StepsRecord", "count", 600),
        ("ActiveCaloriesBurnedRecord", "energyInKilocalories", 25),
    ):
        hourly = _base(record_type, 24, key + len(record_type), PHONE_APP)
        for h, r in enumerate(hourly):
            _interval(r, t0 + h * HOUR, t0 + (h + 1) * HOUR)
            awake = 7 <= h <= 22
            r[field] = round(scale * rng.random() * (1.0 if awake else 0.05), 1)
            if field == "count":
                r[field] = int(r[field])
        out[record_type] = hourly

    night = _base("SleepSessionRecord", 1, key + 3, RING_APP)[0]
    start, end = t0 - 60 * MIN, t0 + 7 * HOUR  # 23:00 to 07:00, ends on this day
    _interval(night, start, end)
    stages, t = [], start
    cycle = ("AWAKE", "LIGHT", "DEEP", "LIGHT", "REM")
    while t < end:
        for stage, minutes in zip(cycle, (5, 30, 25, 20, 20), strict=True):
            stop = min(end, t + minutes * MIN)
            stages.append({"startTimeEpochMillis": t, "endTimeEpochMillis": stop, "stage": stage})
            t = stop
            if t >= end:
                break
    night["stages"], night["durationMillis"] = stages, end - start
    out["SleepSessionRecord"] = [night]

    hrv = _base("HeartRateVariabilityRmssdRecord", 48, key + 4, RING_APP)
    for i, r in enumerate(hrv):
        _instant(r, start + i * 10 * MIN, OFFSET)
        r["heartRateVariabilityRmssd"] = round(45 + rng.gauss(0, 8), 1)
    out["HeartRateVariabilityRmssdRecord"] = hrv

    spo2 = _base("OxygenSaturationRecord", 96, key + 5, RING_APP)
    for i, r in enumerate(spo2):
        _instant(r, start + i * 5 * MIN, OFFSET)
        r["percentage"] = round(min(100.0, 96 + rng.gauss(0, 1.5)), 1)
    out["OxygenSaturationRecord"] = spo2

    pressure = _base("BloodPressureRecord", 2, key + 6, PHONE_APP)
    for i, r in enumerate(pressure):
        _instant(r, t0 + (8 + 12 * i) * HOUR, OFFSET)
        r["systolic"], r["diastolic"] = round(118 + rng.gauss(0, 8)), round(76 + rng.gauss(0, 6))
    out["BloodPressureRecord"] = pressure

    if day.toordinal() % 2 == 0:
        run = _base("ExerciseSessionRecord", 1, key + 7, PHONE_APP)[0]
        _interval(run, t0 + 18 * HOUR, t0 + 18 * HOUR + 45 * MIN)
        run["exerciseType"] = "RUNNING"
        out["ExerciseSessionRecord"] = [run]
    return out


def avro_file(record_type: str, records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    schema = fastavro.parse_schema(record_types()[record_type].schema)
    fastavro.writer(buf, schema, records, codec="deflate")
    return buf.getvalue()


def year_files(first: date, days: int = 365, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """(file name, Avro bytes): one file per record type per day, in upload order."""
    for n in range(days):
        day = first + timedelta(days=n)
        for record_type, records in day_records(day, seed).items():
            stamp = _midnight(day + timedelta(days=1)) + 30 * MIN  # the phone's nightly run
            yield f"{record_type}_{stamp}.avro", avro_file(record_type, records)
