"""Synthetic Health Connect files made from the schemas: for record types without real
samples, for load tests and for benchmarks. Values are plausible, deterministic per seed."""

from __future__ import annotations

import io
import random
import uuid
from typing import Any

import fastavro

from healthplatform.healthconnect.registry import record_types

# Plausible ranges for numeric fields, by field name.
_RANGES: dict[str, tuple[float, float]] = {
    "levelInMilligramsPerDeciliter": (65, 240),
    "beatsPerMinute": (48, 150),
    "heartRateVariabilityRmssd": (15, 90),
    "percentage": (90, 100),
    "temperatureInCelsius": (36.0, 37.6),
    "systolic": (100, 160),
    "diastolic": (60, 100),
    "weightInKilograms": (55, 110),
    "heightInMeters": (1.5, 2.0),
    "massInKilograms": (2, 60),
    "rate": (10, 22),
    "count": (0, 2000),
    "energyInKilocalories": (5, 300),
    "distanceInMeters": (10, 3000),
    "elevationInMeters": (0, 50),
    "floors": (0, 10),
    "volumeInMilliliters": (100, 600),
    "vo2MillilitersPerMinuteKilogram": (25, 55),
    "basalMetabolicRateInKilocaloriesPerDay": (1300, 2100),
    "revolutionsPerMinute": (40, 110),
    "rate_spm": (60, 180),
    "watts": (50, 300),
    "metersPerSecond": (0.5, 8),
}


class _Maker:
    def __init__(self, seed: int, start_ms: int, step_ms: int) -> None:
        self.rng = random.Random(seed)
        self.start_ms = start_ms
        self.step_ms = step_ms

    def record(self, schema: dict[str, Any], index: int) -> dict[str, Any]:
        t0 = self.start_ms + index * self.step_ms
        t1 = t0 + max(1000, self.step_ms // 2)
        out: dict[str, Any] = {}
        for field in schema["fields"]:
            out[field["name"]] = self.value(field["name"], field["type"], t0, t1)
        return out

    def value(self, name: str, t: Any, t0: int, t1: int) -> Any:
        if isinstance(t, list):  # union: use the non-null branch most of the time
            options = [x for x in t if x != "null"]
            if not options or ("null" in t and name in ("clientRecordId", "title", "notes")):
                return None
            return self.value(name, options[0], t0, t1)
        if isinstance(t, dict):
            kind = t["type"]
            if kind == "record":
                return {f["name"]: self.value(f["name"], f["type"], t0, t1) for f in t["fields"]}
            if kind == "enum":
                symbols = [s for s in t["symbols"] if s != "UNKNOWN"] or t["symbols"]
                return self.rng.choice(symbols)
            if kind == "array":
                n = self.rng.randint(1, 4)
                span = max(1, (t1 - t0) // n)
                return [
                    self.value(name, t["items"], t0 + i * span, t0 + (i + 1) * span)
                    for i in range(n)
                ]
            return self.value(name, kind, t0, t1)
        if name == "id":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if name in ("startTimeEpochMillis", "timeEpochMillis"):
            return t0
        if name == "endTimeEpochMillis":
            return t1
        if name.endswith("EpochMillis"):
            return t1 + 60_000
        if name.endswith("ZoneOffsetId"):
            return "-05:00"
        if t == "string":
            return {"dataOriginPackageName": "com.example.synthetic"}.get(name, f"{name}-value")
        if t in ("long", "int"):
            lo, hi = _RANGES.get(name, (0, 100))
            return self.rng.randint(int(lo), int(hi))
        if t in ("double", "float"):
            lo, hi = _RANGES.get(name, (0.0, 100.0))
            return round(self.rng.uniform(lo, hi), 2)
        if t == "boolean":
            return self.rng.random() < 0.5
        return None


def synthetic_records(
    record_type: str,
    count: int,
    *,
    start_ms: int = 1_758_400_000_000,
    seed: int = 0,
    step_ms: int = 300_000,
) -> list[dict[str, Any]]:
    """``count`` records of ``record_type`` spaced ``step_ms`` apart from ``start_ms``."""
    schema = record_types()[record_type].schema
    maker = _Maker(seed, start_ms, step_ms)
    return [maker.record(schema, i) for i in range(count)]


def synthetic_file(
    record_type: str,
    count: int = 50,
    *,
    start_ms: int = 1_758_400_000_000,
    seed: int = 0,
    codec: str = "null",
    step_ms: int = 300_000,
) -> bytes:
    """A container file as the Android app writes it (schema embedded, one or more blocks)."""
    schema = record_types()[record_type].schema
    buf = io.BytesIO()
    fastavro.writer(
        buf,
        fastavro.parse_schema(schema),
        synthetic_records(record_type, count, start_ms=start_ms, seed=seed, step_ms=step_ms),
        codec=codec,
        sync_interval=16_000,
    )
    return buf.getvalue()
