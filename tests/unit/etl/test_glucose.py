"""Glucose metrics against hand-computed values."""

from __future__ import annotations

import pytest

from healthplatform.etl.metrics import compute_day, gmi, range_percentages
from healthplatform.etl.metrics.glucose import Reading, hypo_events, trend
from tests.unit.etl.helpers import DAY, EST, MIN, at, cgm, obs

# 288 readings, 5 min apart, from 00:00 local:
#   00:00-02:55  36 x 50   (< 54, so also < 70)
#   03:00-05:55  36 x 60   (54-69)
#   06:00-17:55 144 x 120  (in range)
#   18:00-20:55  36 x 200  (181-250)
#   21:00-23:55  36 x 300  (> 250, so also > 180)
DAY_VALUES = [50.0] * 36 + [60.0] * 36 + [120.0] * 144 + [200.0] * 36 + [300.0] * 36


def test_full_day_hand_computed() -> None:
    g = compute_day(cgm(DAY, DAY_VALUES), DAY)["glucose"]
    assert g["status"] == "ok" and g["reason"] is None
    # expected = 1440 min / 5 min = 288 readings; 288 / 288 = 100 %
    assert g["coverage"]["expected_readings"] == 288
    assert g["coverage"]["median_interval_min"] == 5.0
    assert g["coverage"]["sufficiency_pct"] == 100.0
    # mean = (36*50 + 36*60 + 144*120 + 36*200 + 36*300) / 288 = 39240 / 288 = 136.25
    assert g["mean_mg_dl"] == pytest.approx(136.25)
    # sum of squared deviations = 36*86.25^2 + 36*76.25^2 + 144*16.25^2 + 36*63.75^2
    #   + 36*163.75^2 = 1,626,750; sample SD = sqrt(1,626,750 / 287) = 75.2869
    assert g["sd_mg_dl"] == pytest.approx(75.2869, abs=1e-4)
    # CV = 75.2869 / 136.25 = 55.256 %
    assert g["cv_pct"] == pytest.approx(55.2564, abs=1e-4)
    # GMI needs >= 14 days of CGM data: no daily value
    assert "gmi_pct" not in g
    # TBR70 = 72/288 = 25 %, TBR54 = 36/288 = 12.5 %, TIR = 144/288 = 50 %,
    # TAR180 = 72/288 = 25 %, TAR250 = 36/288 = 12.5 %
    assert g["tir_70_180_pct"] == 50.0
    assert g["tbr_70_pct"] == 25.0 and g["tbr_54_pct"] == 12.5
    assert g["tar_180_pct"] == 25.0 and g["tar_250_pct"] == 12.5
    assert g["tbr_70_pct"] + g["tir_70_180_pct"] + g["tar_180_pct"] == 100.0


def test_patterns_hand_computed() -> None:
    g = compute_day(cgm(DAY, DAY_VALUES), DAY)["glucose"]
    # one event < 70: begins 00:00 (3 readings x 5 min = 15 min below 70), ends at 06:00,
    # the first of >= 15 min at or above 70: 72 readings, 360 min, nadir 50
    assert g["low_episodes"] == [
        {"start": "00:00", "end": "06:00", "minutes": 360.0, "readings": 72, "extreme": 50.0,
         "ended": "recovered"}
    ]  # fmt: skip
    # < 54 begins 00:00; 54-69 does not end it (the consensus end is >= 15 min at >= 70)
    assert g["very_low_episodes"][0]["minutes"] == 360.0
    assert g["readings_below_54"] == {"count": 36, "lowest_mg_dl": 50.0, "lowest_time": "00:00"}
    night = g["overnight"]
    assert night["readings"] == 72 and night["below_70"] == 72
    assert night["nadir_mg_dl"] == 50.0 and night["nadir_time"] == "00:00"
    assert night["low_detected"] is True
    # largest rise within 2 h: 200 at 19:00 -> 300 at 21:00 (exactly 2 h) = +100;
    # 120 at 17:55 -> 300 at 21:00 is 3 h 05 apart, outside the window
    assert g["largest_rise_2h"] == {
        "rise_mg_dl": 100.0,
        "from_mg_dl": 200.0,
        "from_time": "19:00",
        "to_mg_dl": 300.0,
        "to_time": "21:00",
        "after_low": False,
    }
    assert g["post_meal"] is None  # no meal tags
    assert g["trend"]["direction"] == "rising"


def test_range_boundaries() -> None:
    # 54 is not < 54 (but < 70); 70 and 180 are in range; 250 is > 180 but not > 250
    p = range_percentages([54.0, 70.0, 180.0, 250.0])
    assert p == {
        "tir_70_180_pct": 50.0,
        "tbr_70_pct": 25.0,
        "tbr_54_pct": 0.0,
        "tar_180_pct": 25.0,
        "tar_250_pct": 0.0,
    }


def test_gmi_formula() -> None:
    # 3.31 + 0.02392 * 154 = 3.31 + 3.68368 = 6.99368
    assert gmi(154.0) == pytest.approx(6.99368)


def test_sufficiency_threshold() -> None:
    # 201 / 288 = 69.79 % -> insufficient; 202 / 288 = 70.14 % -> ok
    low = compute_day(cgm(DAY, [100.0] * 201), DAY)["glucose"]
    assert low["status"] == "insufficient data"
    assert "70 % of expected readings (201 of 288)" in low["reason"]
    assert low["mean_mg_dl"] is None and low["tir_70_180_pct"] is None and low["trend"] is None
    assert low["readings_summary"]["count"] == 201  # the readings are still described
    assert compute_day(cgm(DAY, [100.0] * 202), DAY)["glucose"]["status"] == "ok"


def test_sparse_readings_are_not_cgm() -> None:
    # fingersticks at 07:00, 12:00, 18:00, 22:00: gaps 300, 360, 240 -> median 300 min
    day = [
        cgm(DAY, [v], start_hh=h)[0] for h, v in ((7, 95.0), (12, 140.0), (18, 160.0), (22, 120.0))
    ]
    g = compute_day(day, DAY)["glucose"]
    assert g["status"] == "insufficient data"
    assert "median interval 300 min" in g["reason"]
    assert g["coverage"]["median_interval_min"] == 300.0
    # mean of the readings = (95 + 140 + 160 + 120) / 4 = 128.75
    assert g["readings_summary"] == {
        "count": 4, "min_mg_dl": 95.0, "max_mg_dl": 160.0, "mean_mg_dl": 128.75,
    }  # fmt: skip
    single = compute_day(day[:1], DAY)["glucose"]
    assert single["status"] == "insufficient data" and "fewer than 2" in single["reason"]


def test_post_meal_tagged() -> None:
    base = at(DAY, 12)
    values = [
        (0, 100.0, "LUNCH", "BEFORE_MEAL"),
        (30, 140.0, "UNKNOWN", "UNKNOWN"),
        (60, 180.0, "UNKNOWN", "UNKNOWN"),
        (90, 160.0, "UNKNOWN", "AFTER_MEAL"),
        (150, 130.0, "UNKNOWN", "UNKNOWN"),  # 2 h 30 after the meal: outside the window
    ]
    readings = [
        obs(
            "BloodGlucoseRecord",
            base + dt * MIN,
            levelInMilligramsPerDeciliter=v,
            mealType=meal,
            relationToMeal=relation,
        )
        for dt, v, meal, relation in values
    ]
    g = compute_day(readings, DAY)["glucose"]
    # peak within 2 h of 12:00 = 180 at 13:00; rise = 180 - 100 = 80
    assert g["post_meal"]["peaks"] == [
        {
            "meal": "LUNCH",
            "time": "12:00",
            "baseline_mg_dl": 100.0,
            "peak_mg_dl": 180.0,
            "peak_time": "13:00",
            "rise_mg_dl": 80.0,
        }
    ]
    assert g["post_meal"]["after_meal_readings"] == 1
    assert g["post_meal"]["after_meal_max_mg_dl"] == 160.0


def test_trend_slope() -> None:
    # (0 h, 100), (1 h, 110), (2 h, 120): slope 10 mg/dL/h, change 10 * 2 = 20 -> rising
    t0 = at(DAY, 8)
    readings = [Reading(t0 + i * 3_600_000, 100.0 + 10 * i, EST) for i in range(3)]
    result = trend(readings)
    assert result is not None
    assert result["slope_mg_dl_per_h"] == pytest.approx(10.0)
    assert result["change_mg_dl"] == pytest.approx(20.0)
    assert result["direction"] == "rising"
    flat = [Reading(t0 + i * 3_600_000, 100.0 + 5 * i, EST) for i in range(3)]
    assert trend(flat) is not None and trend(flat)["direction"] == "stable"  # type: ignore[index]


def test_own_offset_decides_the_day() -> None:
    # Readings in UTC ("Z") belong to the UTC date even if other records are at -05:00.
    utc_reading = cgm(DAY, [100.0], offset=0, start_hh=2)  # 02:00Z = 21:00 the day before at -05
    assert "glucose" in compute_day(utc_reading, DAY)
    assert "glucose" not in compute_day(utc_reading, DAY.replace(day=DAY.day - 1))


def _readings(values: list[float], step_min: int = 5) -> list[Reading]:
    t0 = at(DAY, 12)
    return [Reading(t0 + i * step_min * MIN, v, EST) for i, v in enumerate(values)]


def test_hypo_event_consensus_start_and_end() -> None:
    # 12:00 100, 12:05-12:15 three lows (15 min: an event begins at 12:05), 12:20 72 (a
    # recovery of 5 min only), 12:25 65 (still low), 12:30-12:40 three at >= 70: the event
    # ends at 12:30 after 25 min; 5 readings 12:05-12:25, nadir 65
    values = [100.0, 65.0, 65.0, 65.0, 72.0, 65.0, 80.0, 80.0, 80.0, 100.0]
    assert hypo_events(_readings(values), 70.0, 5 * MIN) == [
        {"start": "12:05", "end": "12:30", "minutes": 25.0, "readings": 5, "extreme": 65.0,
         "ended": "recovered"}
    ]  # fmt: skip


def test_two_lows_are_not_an_event_and_a_gap_ends_one() -> None:
    # two readings below 70 cover only 10 minutes: no event
    assert hypo_events(_readings([100.0, 60.0, 60.0, 100.0, 100.0, 100.0]), 70.0, 5 * MIN) == []
    # three lows then 30 min without data: the event ends with the last low's interval
    lows = _readings([60.0, 58.0, 61.0])
    after = Reading(lows[-1].ms + 30 * MIN, 120.0, EST)
    events = hypo_events([*lows, after], 70.0, 5 * MIN)
    assert events == [
        {"start": "12:00", "end": "12:15", "minutes": 15.0, "readings": 3, "extreme": 58.0,
         "ended": "data gap"}
    ]  # fmt: skip
    # sparse readings (not CGM) make no event at all
    assert hypo_events(_readings([60.0] * 6, step_min=30), 70.0, 30 * MIN) == []


def test_a_rise_after_a_low_is_a_rebound() -> None:
    values = [100.0, 60.0, 60.0, 60.0, 80.0, 110.0, 140.0, 160.0]
    g = compute_day(cgm(DAY, values, start_hh=12), DAY)["glucose"]
    # largest rise 60 (12:15) -> 160 (12:35): starts below 70, so after_low
    assert g["largest_rise_2h"]["from_mg_dl"] == 60.0 and g["largest_rise_2h"]["after_low"]
