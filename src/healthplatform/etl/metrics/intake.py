"""Intake for one local day: hydration and nutrition sums.

Records crossing local midnight are split in proportion to their overlap with the day.
Overlapping intake records are all summed: several foods logged for one meal share a time
window and are distinct intakes, not duplicates. Units as the app exports them (energy in
kcal, macronutrients in g, minerals in mg, vitamin D in micrograms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from healthplatform.etl.metrics.common import (
    Json,
    Piece,
    day_piece,
    domain,
    num,
    of_type,
    record_counts,
)
from healthplatform.healthconnect.observations import Observation

HYDRATION, NUTRITION = "HydrationRecord", "NutritionRecord"
RECORD_TYPES = (HYDRATION, NUTRITION)
# schema field -> output key (unit in the key)
NUTRIENTS: dict[str, str] = {
    "calories": "energy_kcal",
    "carbohydrates": "carbohydrates_g",
    "protein": "protein_g",
    "totalFat": "total_fat_g",
    "saturatedFat": "saturated_fat_g",
    "unsaturatedFat": "unsaturated_fat_g",
    "transFat": "trans_fat_g",
    "fiber": "fiber_g",
    "sugar": "sugar_g",
    "sodium": "sodium_mg",
    "potassium": "potassium_mg",
    "cholesterol": "cholesterol_mg",
    "calcium": "calcium_mg",
    "iron": "iron_mg",
    "vitaminC": "vitamin_c_mg",
    "vitaminD": "vitamin_d_ug",
}


def _pieces(observations: Sequence[Observation], day: date) -> list[Piece]:
    return [p for o in observations if (p := day_piece(o, day)) is not None]


def _sum(pieces: Sequence[Piece], field: str) -> float | None:
    shares = [
        value * p.fraction
        for p in pieces
        if (value := num(p.obs.fields.get(field))) is not None and value >= 0
    ]
    return math.fsum(shares) if shares else None


def intake_day(observations: Sequence[Observation], day: date) -> Json | None:
    """Intake metrics of the local ``day``; None without any intake record that day."""
    metrics: Json = {}
    water = _pieces(of_type(observations, HYDRATION), day)
    water_ml = _sum(water, "volumeInMilliliters")
    if water_ml is not None:
        metrics["hydration"] = {"volume_ml": water_ml, "records": len(water)}
    food = _pieces(of_type(observations, NUTRITION), day)
    sums = {key: _sum(food, field) for field, key in NUTRIENTS.items()}
    if food:
        metrics["nutrition"] = {
            "records": len(food),
            **{key: value for key, value in sums.items() if value is not None},
        }
    if not metrics:
        return None
    coverage: Json = {"records": record_counts([p.obs for p in water + food])}
    return domain(True, None, coverage, **metrics)
