"""Heart metrics against hand-computed values."""

from __future__ import annotations

import pytest

from healthplatform.etl.metrics import compute_day, hrv_trend
from tests.unit.etl.helpers import DAY, MIN, at, hr_record, obs


def _day_of_samples() -> list:  # type: ignore[type-arg]
    """12 hourly records (06:00-17:59), one sample a minute = 720 samples:
    06:00-07:11  72 x 50   (the lowest decile: ceil(720 / 10) = 72 samples)
    10:00-10:11  12 x 110  (span 11 min >= 10: an elevated episode)
    14:00-14:05   6 x 110  (span 5 min: too short)
    16:00-16:19  20 x 120  (inside exercise 15:50-16:10 + 15 min recovery: excluded)
    every other minute 70  (720 - 72 - 12 - 6 - 20 = 610 samples)
    """
    special = {}
    special.update({(6 * 60 + i): 50.0 for i in range(72)})
    special.update({(10 * 60 + i): 110.0 for i in range(12)})
    special.update({(14 * 60 + i): 110.0 for i in range(6)})
    special.update({(16 * 60 + i): 120.0 for i in range(20)})
    records = []
    for hour in range(6, 18):
        bpms = [special.get(hour * 60 + m, 70.0) for m in range(60)]
        records.append(hr_record(at(DAY, hour), bpms))
    exercise = obs("ExerciseSessionRecord", at(DAY, 15, 50), at(DAY, 16, 10),
                   exerciseType="RUNNING")  # fmt: skip
    return [*records, exercise]


def test_profile_resting_estimate_and_episodes() -> None:
    h = compute_day(_day_of_samples(), DAY)["heart"]
    assert h["status"] == "ok"  # 12 hours with samples >= 12
    assert h["coverage"]["hours_with_samples"] == 12
    assert h["coverage"]["records"] == {"HeartRateRecord": 12}
    # sum = 72*50 + 18*110 + 20*120 + 610*70 = 3600 + 1980 + 2400 + 42700 = 50680
    # mean = 50680 / 720 = 70.3889
    assert h["heart_rate"] == {
        "samples": 720,
        "min_bpm": 50.0,
        "mean_bpm": pytest.approx(70.3889, abs=1e-4),
        "max_bpm": 120.0,
    }
    # no RestingHeartRateRecord: mean of the lowest 72 samples = 50
    assert h["resting"] == {
        "bpm": 50.0, "method": "lowest-decile estimate", "is_estimate": True, "readings": 72,
    }  # fmt: skip
    assert h["elevated_episodes"] == [
        {"start": "10:00", "end": "10:11", "minutes": 11.0, "readings": 12, "extreme": 110.0}
    ]


def test_resting_record_wins_and_hrv() -> None:
    day = [
        *_day_of_samples(),
        obs("RestingHeartRateRecord", at(DAY, 7), beatsPerMinute=58),
        obs("RestingHeartRateRecord", at(DAY, 8), beatsPerMinute=62),
        *(obs("HeartRateVariabilityRmssdRecord", at(DAY, 3, i),
              heartRateVariabilityRmssd=v) for i, v in enumerate((20.0, 30.0, 40.0))),
    ]  # fmt: skip
    h = compute_day(day, DAY, hrv_previous=[40.0, 42.0, 38.0, 40.0])["heart"]
    # (58 + 62) / 2 = 60
    assert h["resting"]["bpm"] == 60.0 and h["resting"]["is_estimate"] is False
    # RMSSD 20, 30, 40: mean 30, median 30
    assert h["hrv"]["mean_ms"] == 30.0 and h["hrv"]["median_ms"] == 30.0
    # baseline mean 40; squared deviations 0+4+4+0 = 8; sample SD = sqrt(8/3) = 1.633;
    # 30 < 40 - 1.633 -> below; delta = -10 ms = -25 %
    trend = h["hrv"]["trend"]
    assert trend["direction"] == "below"
    assert trend["baseline_sd_ms"] == pytest.approx(1.63299, abs=1e-5)
    assert trend["delta_ms"] == -10.0 and trend["delta_pct"] == -25.0


def test_hrv_trend_needs_three_days() -> None:
    assert hrv_trend(30.0, [40.0, 41.0])["status"] == "insufficient data"
    # baseline 30, 40, 50: mean 40, SD 10 -> 45 is within [30, 50]
    assert hrv_trend(45.0, [30.0, 40.0, 50.0])["direction"] == "within"
    assert hrv_trend(51.0, [30.0, 40.0, 50.0])["direction"] == "above"


def test_few_hours_is_insufficient_and_no_estimate() -> None:
    # 3 hours of samples: profile reported, status insufficient, no resting estimate
    day = [hr_record(at(DAY, h), [65.0] * 60) for h in (9, 10, 11)]
    h = compute_day(day, DAY)["heart"]
    assert h["status"] == "insufficient data"
    assert h["reason"] == "heart-rate samples cover 3 of 24 hours, at least 12 needed"
    assert h["heart_rate"]["samples"] == 180
    assert h["resting"] is None


def test_sparse_samples_make_no_episode() -> None:
    # 10-minute sampling at 120 bpm for an hour: gaps > 5 min break every run
    day = [hr_record(at(DAY, 9), [120.0] * 7, step_ms=10 * MIN)]
    assert compute_day(day, DAY)["heart"]["elevated_episodes"] == []


def test_samples_split_at_local_midnight() -> None:
    # one record 23:58 -> 00:02, a sample a minute: 2 samples on DAY, 3 on the next day
    record = hr_record(at(DAY, 23, 58), [60.0, 61.0, 62.0, 63.0, 64.0])
    first = compute_day([record], DAY)["heart"]["heart_rate"]
    second = compute_day([record], DAY.replace(day=DAY.day + 1))["heart"]["heart_rate"]
    assert (first["samples"], second["samples"]) == (2, 3)
    assert first["max_bpm"] == 61.0 and second["min_bpm"] == 62.0
