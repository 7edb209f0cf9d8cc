"""Body, vitals and intake metrics against hand-computed values."""

from __future__ import annotations

import pytest

from healthplatform.etl.metrics import bp_category, compute_day
from tests.unit.etl.helpers import DAY, MIN, at, next_day, obs


def weights() -> list:  # type: ignore[type-arg]
    return [
        obs("WeightRecord", at(DAY, 7), weightInKilograms=80.0),
        obs("WeightRecord", at(DAY, 20), weightInKilograms=79.5),
    ]


def test_weight_and_bmi_from_height_record() -> None:
    height = obs("HeightRecord", at(next_day(DAY, -30), 9), heightInMeters=1.78)
    b = compute_day([*weights(), height], DAY)["body"]
    assert b["weight"]["latest"] == 79.5 and b["weight"]["latest_time"] == "20:00"
    assert (b["weight"]["min"], b["weight"]["max"], b["weight"]["readings"]) == (79.5, 80.0, 2)
    # BMI = 79.5 / 1.78^2 = 79.5 / 3.1684 = 25.09 -> overweight (25-29.9)
    assert b["bmi"]["value"] == pytest.approx(25.0915, abs=1e-4)
    assert b["bmi"]["category"] == "overweight" and b["bmi"]["height_source"] == "HeightRecord"
    assert "height" not in b  # the height record is not on this day


def test_bmi_from_argument_or_unavailable() -> None:
    # 79.5 / 1.8^2 = 79.5 / 3.24 = 24.54 -> normal
    b = compute_day(weights(), DAY, height_m=1.8)["body"]["bmi"]
    assert b["value"] == pytest.approx(24.537, abs=1e-3) and b["category"] == "normal"
    assert b["height_source"] == "argument"
    missing = compute_day(weights(), DAY)["body"]["bmi"]
    assert missing["value"] is None and "BMI unavailable" in missing["reason"]


def test_later_height_is_not_used() -> None:
    later = obs("HeightRecord", at(next_day(DAY), 9), heightInMeters=1.78)
    assert compute_day([*weights(), later], DAY)["body"]["bmi"]["value"] is None


@pytest.mark.parametrize(
    ("systolic", "diastolic", "category"),
    [
        (119, 79, "normal"),
        (120, 79, "elevated"),
        (129, 79, "elevated"),
        (130, 70, "stage_1"),
        (120, 80, "stage_1"),
        (139, 89, "stage_1"),
        (140, 70, "stage_2"),
        (110, 90, "stage_2"),
        (180, 120, "stage_2"),
        (181, 100, "crisis"),
        (150, 121, "crisis"),
    ],
)
def test_acc_aha_categories(systolic: float, diastolic: float, category: str) -> None:
    assert bp_category(systolic, diastolic) == category


def test_blood_pressure_day() -> None:
    day = [
        obs("BloodPressureRecord", at(DAY, 8), systolic=118.0, diastolic=76.0),  # normal
        obs("BloodPressureRecord", at(DAY, 12), systolic=125.0, diastolic=78.0),  # elevated
        obs("BloodPressureRecord", at(DAY, 20), systolic=134.0, diastolic=82.0),  # stage 1
    ]
    bp = compute_day(day, DAY)["vitals"]["blood_pressure"]
    # mean = 377 / 3 = 125.67 / 236 / 3 = 78.67 -> elevated (120-129 and < 80)
    assert bp["mean_systolic_mmhg"] == pytest.approx(125.6667, abs=1e-4)
    assert bp["mean_diastolic_mmhg"] == pytest.approx(78.6667, abs=1e-4)
    assert bp["category_of_mean"] == "elevated" and bp["highest_category"] == "stage_1"
    assert bp["category_counts"] == {"normal": 1, "elevated": 1, "stage_1": 1}


def test_spo2_and_series() -> None:
    day = [
        obs("OxygenSaturationRecord", at(DAY, 2) + i * MIN, percentage=v)
        for i, v in enumerate((97.0, 96.0, 89.0, 88.0, 95.0))
    ] + [
        obs("RespiratoryRateRecord", at(DAY, 3), rate=14.0),
        obs("RespiratoryRateRecord", at(DAY, 4), rate=16.0),
        obs(
            "BodyTemperatureRecord",
            at(DAY, 9),
            temperatureInCelsius=36.6,
            measurementLocation="MOUTH",
        ),
        obs("BasalBodyTemperatureRecord", at(DAY, 6), temperatureInCelsius=36.4),
    ]
    v = compute_day(day, DAY)["vitals"]
    s = v["spo2"]
    # mean (97 + 96 + 89 + 88 + 95) / 5 = 93; 2 of 5 below 90 = 40 %; 1-min sampling -> 2 min
    assert s["mean"] == 93.0 and s["min"] == 88.0
    assert s["readings_below_90"] == 2 and s["pct_readings_below_90"] == 40.0
    assert s["minutes_below_90_estimate"] == 2.0
    assert v["respiratory_rate"]["mean"] == 15.0  # (14 + 16) / 2
    assert v["body_temperature"]["latest"] == 36.6
    assert v["basal_body_temperature"]["latest"] == 36.4


def test_sparse_spo2_has_no_minutes() -> None:
    day = [obs("OxygenSaturationRecord", at(DAY, h), percentage=89.0) for h in (1, 3)]
    assert compute_day(day, DAY)["vitals"]["spo2"]["minutes_below_90_estimate"] is None


def test_intake() -> None:
    day = [
        # 250 mL from 23:30 to 00:30: half on each day -> 125 mL
        obs("HydrationRecord", at(DAY, -1, 30), at(DAY, 0, 30), volumeInMilliliters=250.0),
        # two foods logged for the same meal window: both count
        obs(
            "NutritionRecord",
            at(DAY, 12),
            at(DAY, 12, 30),
            calories=500.0,
            protein=20.0,
            sodium=400.0,
            name="pasta",
        ),
        obs(
            "NutritionRecord",
            at(DAY, 12),
            at(DAY, 12, 30),
            calories=300.0,
            protein=10.0,
            sodium=None,
            name="salad",
        ),
    ]
    i = compute_day(day, DAY)["intake"]
    assert i["hydration"] == {"volume_ml": 125.0, "records": 1}
    # energy 500 + 300 = 800 kcal, protein 20 + 10 = 30 g, sodium 400 mg (one value)
    assert i["nutrition"] == {
        "records": 2, "energy_kcal": 800.0, "protein_g": 30.0, "sodium_mg": 400.0,
    }  # fmt: skip
    assert compute_day(day, next_day(DAY, -1))["intake"]["hydration"]["volume_ml"] == 125.0
