"""Body-composition metrics for one local day: latest readings and BMI (WHO categories)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from healthplatform.etl.metrics.common import (
    Json,
    domain,
    num,
    of_type,
    record_counts,
    series_metrics,
)
from healthplatform.healthconnect.observations import Observation, local_day_bounds_ms

# record type -> (output key, field, unit)
SERIES: dict[str, tuple[str, str, str]] = {
    "WeightRecord": ("weight", "weightInKilograms", "kg"),
    "HeightRecord": ("height", "heightInMeters", "m"),
    "BodyFatRecord": ("body_fat", "percentage", "%"),
    "LeanBodyMassRecord": ("lean_mass", "massInKilograms", "kg"),
    "BoneMassRecord": ("bone_mass", "massInKilograms", "kg"),
    "BodyWaterMassRecord": ("body_water_mass", "massInKilograms", "kg"),
    "BasalMetabolicRateRecord": ("bmr", "basalMetabolicRateInKilocaloriesPerDay", "kcal/day"),
}
RECORD_TYPES = tuple(SERIES)


def bmi_category(bmi: float) -> str:
    """WHO adult categories: <18.5, 18.5-24.9, 25-29.9, >=30."""
    if bmi < 18.5:
        return "underweight"
    if bmi < 25:
        return "normal"
    if bmi < 30:
        return "overweight"
    return "obese"


def latest_height(observations: Sequence[Observation], day: date) -> float | None:
    """The latest positive HeightRecord at or before the end of ``day`` (any earlier day)."""
    candidates = [
        (o.start_ms, height)
        for o in of_type(observations, "HeightRecord")
        if o.start_ms < local_day_bounds_ms(day, o.offset_minutes)[1]
        and (height := num(o.fields.get("heightInMeters"))) is not None
        and height > 0
    ]
    return max(candidates)[1] if candidates else None


def bmi(
    weight_kg: float, observations: Sequence[Observation], day: date, height_m: float | None
) -> Json:
    """BMI = weight / height^2 with the latest HeightRecord, else the ``height_m`` argument."""
    height, source = latest_height(observations, day), "HeightRecord"
    if height is None and height_m is not None and height_m > 0:
        height, source = height_m, "argument"
    if height is None:
        return {
            "value": None,
            "category": None,
            "height_m": None,
            "height_source": None,
            "reason": "BMI unavailable: no HeightRecord and no height given",
        }
    value = weight_kg / height**2
    return {
        "value": value,
        "category": bmi_category(value),
        "height_m": height,
        "height_source": source,
        "reason": None,
    }


def body_day(
    observations: Sequence[Observation], day: date, height_m: float | None = None
) -> Json | None:
    """Body metrics of the local ``day``; None without any body reading that day."""
    metrics, contributing = series_metrics(observations, day, SERIES)
    if not metrics:
        return None
    if "weight" in metrics:
        metrics["bmi"] = bmi(metrics["weight"]["latest"], observations, day, height_m)
    coverage: Json = {"records": record_counts(contributing)}
    return domain(True, None, coverage, **metrics)
