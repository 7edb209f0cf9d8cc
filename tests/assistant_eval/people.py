"""The two people of the question set: the real sample phone, and a synthetic week made with
``healthconnect.synth`` (times laid out like a real week, a few values pinned so that every
question has something to find, e.g. readings below 54 mg/dL)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro

from healthplatform.healthconnect.registry import FILENAME_PATTERN, record_types
from healthplatform.healthconnect.synth import synthetic_records

OFFSET = "-05:00"
OFFSET_MIN = -300
FIRST_DAY = date(2025, 3, 3)  # a Monday
DAYS = 7
HOUR = 3_600_000
MIN = 60_000


def local_midnight_ms(day: date) -> int:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(minutes=OFFSET_MIN)
    return int(midnight.timestamp() * 1000)


def week_days() -> list[date]:
    return [FIRST_DAY + timedelta(days=i) for i in range(DAYS)]


def _offsets(record: dict[str, Any]) -> dict[str, Any]:
    for key in ("zoneOffsetId", "startZoneOffsetId", "endZoneOffsetId"):
        if key in record:
            record[key] = OFFSET
    return record


def synthetic_week() -> dict[str, list[dict[str, Any]]]:
    """Records by type: a CGM every 5 min, hourly steps, heart rate every 15 min, a night's
    sleep ending on each day, a weight and a resting rate each morning, SpO2 hourly, blood
    pressure twice a day."""
    start = local_midnight_ms(FIRST_DAY)
    out: dict[str, list[dict[str, Any]]] = {}
    glucose = synthetic_records("BloodGlucoseRecord", DAYS * 288, start_ms=start, seed=11)
    for i, r in enumerate(glucose):
        r["specimenSource"] = "INTERSTITIAL_FLUID"
        r["mealType"] = r["relationToMeal"] = "UNKNOWN"
        if i % 97 == 0:
            r["levelInMilligramsPerDeciliter"] = 48.0 + i % 5  # a few readings below 54
    out["BloodGlucoseRecord"] = glucose
    out["StepsRecord"] = synthetic_records(
        "StepsRecord", DAYS * 24, start_ms=start, step_ms=HOUR, seed=12
    )
    out["HeartRateRecord"] = synthetic_records(
        "HeartRateRecord", DAYS * 96, start_ms=start, step_ms=15 * MIN, seed=13
    )
    # nights from 23:00 to 11:00 (synth makes a record last half its step), ending each day
    out["SleepSessionRecord"] = synthetic_records(
        "SleepSessionRecord", DAYS, start_ms=start - HOUR, step_ms=24 * HOUR, seed=14
    )
    out["WeightRecord"] = synthetic_records(
        "WeightRecord", DAYS, start_ms=start + 7 * HOUR, step_ms=24 * HOUR, seed=15
    )
    out["RestingHeartRateRecord"] = synthetic_records(
        "RestingHeartRateRecord", DAYS, start_ms=start + 7 * HOUR, step_ms=24 * HOUR, seed=16
    )
    out["OxygenSaturationRecord"] = synthetic_records(
        "OxygenSaturationRecord", DAYS * 24, start_ms=start + 30 * MIN, step_ms=HOUR, seed=17
    )
    out["BloodPressureRecord"] = synthetic_records(
        "BloodPressureRecord", DAYS * 2, start_ms=start + 8 * HOUR, step_ms=12 * HOUR, seed=18
    )
    for records in out.values():
        for r in records:
            _offsets(r)
    return out


def avro_file(record_type: str, records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(record_types()[record_type].schema), records)
    return buf.getvalue()


def synthetic_files() -> Iterator[tuple[str, bytes]]:
    """(file name, content) as the phone app names them."""
    for i, (record_type, records) in enumerate(sorted(synthetic_week().items())):
        yield f"{record_type}_{1_741_000_000_000 + i}.avro", avro_file(record_type, records)


def sample_records(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The real files' records by type (every version: the gold code dedups itself)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.avro")):
        match = FILENAME_PATTERN.match(path.name)
        assert match, path
        with path.open("rb") as f:
            out.setdefault(match["hc_class"], []).extend(fastavro.reader(f))  # type: ignore[arg-type]
    return out
