"""Activity metrics against hand-computed values."""

from __future__ import annotations

import pytest

from healthplatform.etl.metrics import compute_day
from tests.unit.etl.helpers import DAY, MIN, at, next_day, obs


def steps(start: int, end: int, count: int, hc_id: str | None = None):  # type: ignore[no-untyped-def]
    return obs("StepsRecord", start, end, count=count, hc_id=hc_id)


def test_split_across_midnight() -> None:
    # 1200 steps from 23:00 (day before) to 01:00: 60 of 120 min on each day -> 600 + 600
    crossing = steps(at(DAY, -1), at(DAY, 1), 1200)
    morning = steps(at(DAY, 8), at(DAY, 9), 1000)
    day = compute_day([crossing, morning], DAY)["activity"]["steps"]
    assert day == {"unit": "steps", "total": 1600.0, "records": 2, "records_used": 2}
    before = compute_day([crossing, morning], next_day(DAY, -1))["activity"]["steps"]
    assert before["total"] == 600.0


def test_overlapping_sources_are_not_double_counted() -> None:
    # app A: one record for the whole day (5000); app B: 08-09 (1000) and 10-11 (2000).
    # Non-overlapping choices: {A} = 5000 or {B1, B2} = 3000 -> 5000, 2 records left out.
    whole = steps(at(DAY, 0), at(DAY, 24) - 1, 5000)
    b1, b2 = steps(at(DAY, 8), at(DAY, 9), 1000), steps(at(DAY, 10), at(DAY, 11), 2000)
    a = compute_day([whole, b1, b2], DAY)["activity"]
    assert a["steps"]["total"] == 5000.0 and a["steps"]["records_used"] == 1
    assert a["coverage"]["overlapping_records_excluded"] == 2
    # with A = 2500 the two B records (3000) win
    smaller = steps(at(DAY, 0), at(DAY, 24) - 1, 2500, hc_id=whole.hc_id)
    assert compute_day([smaller, b1, b2], DAY)["activity"]["steps"]["total"] == 3000.0


def test_cumulative_types_and_exercise() -> None:
    day = [
        obs("ActiveCaloriesBurnedRecord", at(DAY, 7), at(DAY, 8), energyInKilocalories=300.0),
        obs("TotalCaloriesBurnedRecord", at(DAY, 0), at(DAY, 12), energyInKilocalories=1100.0),
        obs("DistanceRecord", at(DAY, 7), at(DAY, 8), distanceInMeters=5000.0),
        obs("FloorsClimbedRecord", at(DAY, 9), at(DAY, 10), floors=4.0),
        obs("ElevationGainedRecord", at(DAY, 9), at(DAY, 10), elevationInMeters=12.0),
        obs("ExerciseSessionRecord", at(DAY, 7), at(DAY, 7, 45), exerciseType="RUNNING"),
        obs("ExerciseSessionRecord", at(DAY, 7, 30), at(DAY, 8), exerciseType="WALKING"),
        obs("Vo2MaxRecord", at(DAY, 8), vo2MillilitersPerMinuteKilogram=44.5),
    ]
    a = compute_day(day, DAY)["activity"]
    assert a["active_calories"]["total"] == 300.0
    assert a["total_calories"]["total"] == 1100.0
    assert a["distance"]["total"] == 5000.0
    assert a["floors"]["total"] == 4.0 and a["elevation"]["total"] == 12.0
    # 07:00-07:45 and 07:30-08:00 overlap: union = 60 min; per type 45 and 30
    assert a["exercise"] == {
        "sessions": 2, "minutes": 60.0, "types_min": {"RUNNING": 45.0, "WALKING": 30.0},
    }  # fmt: skip
    assert a["vo2_max"]["latest"] == 44.5


def test_sampled_series() -> None:
    samples = [{"timeEpochMillis": at(DAY, 7) + i * MIN, "speedInMetersPerSecond": v}
               for i, v in enumerate((2.0, 3.0, 4.0))]  # fmt: skip
    rec = obs("SpeedRecord", at(DAY, 7), at(DAY, 7, 2), samples=samples)
    # mean (2 + 3 + 4) / 3 = 3
    assert compute_day([rec], DAY)["activity"]["speed"] == {
        "unit": "m/s", "samples": 3, "min": 2.0, "mean": 3.0, "max": 4.0,
    }  # fmt: skip


def test_zero_length_record_counts_on_its_start_day() -> None:
    rec = steps(at(DAY, 12), at(DAY, 12), 42)
    assert compute_day([rec], DAY)["activity"]["steps"]["total"] == 42.0
    assert "activity" not in compute_day([rec], next_day(DAY))


def test_split_uses_the_records_own_offset() -> None:
    # 23:00-01:00 at +02:00 (the record's offset), not at the user's usual -05:00
    rec = obs("StepsRecord", at(DAY, -1, offset=120), at(DAY, 1, offset=120), offset=120,
              count=1000)  # fmt: skip
    assert compute_day([rec], DAY)["activity"]["steps"]["total"] == pytest.approx(500.0)
