"""Gold answers computed straight from the raw Avro records, written apart from the metric
code (it imports none of ``healthplatform.etl``): the definitions of docs/metrics.md, read
as a person would, with the person's clock (UTC-05:00 for both people: the sample phone's
apps write -05:00 and its CGM writes Z, see docs/metrics.md)."""

from __future__ import annotations

import hashlib
import itertools
import json
import statistics
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

OFFSET = timedelta(hours=-5)
SLEEPING = {"LIGHT", "DEEP", "REM", "SLEEPING"}
Record = dict[str, Any]


def local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None) + OFFSET


def _hash(record: Record) -> int:
    body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(body.encode()).digest()[:8], "big", signed=True)


def latest_versions(records: Iterable[Record]) -> list[Record]:
    """One version per metadata.id: the newest lastModified, then the larger content hash."""
    kept: dict[str, tuple[tuple[int, int], Record]] = {}
    for r in records:
        key = (r["metadata"]["lastModifiedTimeEpochMillis"], _hash(r))
        current = kept.get(r["metadata"]["id"])
        if current is None or key > current[0]:
            kept[r["metadata"]["id"]] = (key, r)
    return [r for _, r in kept.values()]


class Person:
    def __init__(self, records: dict[str, list[Record]]) -> None:
        self.records = {t: latest_versions(rs) for t, rs in records.items()}

    def of(self, record_type: str) -> list[Record]:
        return self.records.get(record_type, [])

    # --- glucose
    def glucose(self, day: date) -> list[float]:
        return [r["levelInMilligramsPerDeciliter"] for r in self.of("BloodGlucoseRecord")
                if local(r["timeEpochMillis"]).date() == day]  # fmt: skip

    def mean_glucose(self, day: date) -> float:
        return statistics.fmean(self.glucose(day))

    def glucose_sufficient(self, day: date) -> bool:
        """>= 70 % of the readings expected at the median spacing (spacings < 30 s ignored)."""
        times = sorted(r["timeEpochMillis"] for r in self.of("BloodGlucoseRecord")
                       if local(r["timeEpochMillis"]).date() == day)  # fmt: skip
        spacings = [b - a for a, b in itertools.pairwise(times) if b - a >= 30_000]
        if not spacings:
            return False
        median_min = statistics.median(spacings) / 60_000
        return median_min <= 15 and len(times) >= 0.7 * 1440 / median_min

    def pct_in_range(self, day: date) -> float | str:
        if not self.glucose_sufficient(day):
            return "insufficient data"
        values = self.glucose(day)
        return 100 * sum(1 for v in values if 70 <= v <= 180) / len(values)

    def minutes_below_70(self, day: date) -> float:
        return 5.0 * sum(1 for v in self.glucose(day) if v < 70)  # one reading per 5 min

    def readings_below_54(self, day: date) -> int:
        return sum(1 for v in self.glucose(day) if v < 54)

    # --- activity: the non-overlapping records with the largest total
    def steps(self, day: date) -> float:
        start = datetime(day.year, day.month, day.day)
        end = start + timedelta(days=1)
        pieces = []
        for r in self.of("StepsRecord"):
            a, b = local(r["startTimeEpochMillis"]), local(r["endTimeEpochMillis"])
            lo, hi = max(a, start), min(b, end)
            if b == a and start <= a < end:
                pieces.append((a, b, float(r["count"])))
            elif hi > lo:
                pieces.append((lo, hi, r["count"] * (hi - lo) / (b - a)))
        pieces.sort(key=lambda p: p[1])
        best = [0.0]
        for i, (a, _, amount) in enumerate(pieces):
            j = max((k + 1 for k in range(i) if pieces[k][1] <= a), default=0)
            best.append(max(best[-1], best[j] + amount))
        return best[-1]

    # --- heart
    def max_heart_rate(self, day: date) -> float:
        return max(s["beatsPerMinute"] for r in self.of("HeartRateRecord") for s in r["samples"]
                   if local(s["timeEpochMillis"]).date() == day)  # fmt: skip

    def resting_heart_rate(self, day: date) -> float:
        return statistics.fmean(r["beatsPerMinute"] for r in self.of("RestingHeartRateRecord")
                                if local(r["timeEpochMillis"]).date() == day)  # fmt: skip

    # --- sleep: sessions ending on the day; of overlapping ones keep the staged, then the
    # longest, then the smallest id; the longest kept is the main sleep
    def main_sleep(self, day: date) -> Record:
        ending = [r for r in self.of("SleepSessionRecord")
                  if local(r["endTimeEpochMillis"]).date() == day]  # fmt: skip
        ending.sort(key=lambda r: (not r["stages"], -(r["endTimeEpochMillis"] -
                                   r["startTimeEpochMillis"]), r["metadata"]["id"]))  # fmt: skip
        kept: list[Record] = []
        for r in ending:
            if all(_apart(r, k) for k in kept):
                kept.append(r)
        return max(kept, key=lambda r: r["endTimeEpochMillis"] - r["startTimeEpochMillis"])

    def total_sleep_min(self, day: date) -> float:
        s = self.main_sleep(day)
        return sum((g["endTimeEpochMillis"] - g["startTimeEpochMillis"]) / 60_000
                   for g in s["stages"] if g["stage"] in SLEEPING)  # fmt: skip

    def sleep_efficiency(self, day: date) -> float:
        s = self.main_sleep(day)
        in_bed = (s["endTimeEpochMillis"] - s["startTimeEpochMillis"]) / 60_000
        return 100 * self.total_sleep_min(day) / in_bed

    # --- body and vitals
    def latest_weight(self, day: date) -> float:
        on_day = [r for r in self.of("WeightRecord") if local(r["timeEpochMillis"]).date() == day]
        return float(max(on_day, key=lambda r: r["timeEpochMillis"])["weightInKilograms"])

    def mean_spo2(self, day: date) -> float:
        return statistics.fmean(r["percentage"] for r in self.of("OxygenSaturationRecord")
                                if local(r["timeEpochMillis"]).date() == day)  # fmt: skip

    def mean_systolic(self, day: date) -> float:
        return statistics.fmean(r["systolic"] for r in self.of("BloodPressureRecord")
                                if local(r["timeEpochMillis"]).date() == day)  # fmt: skip


def _apart(a: Record, b: Record) -> bool:
    return (
        a["endTimeEpochMillis"] <= b["startTimeEpochMillis"]
        or a["startTimeEpochMillis"] >= b["endTimeEpochMillis"]
    )
