"""The listed domains of the statistical layer (activity, body, vitals, intake): one
"Title: phrase; phrase." sentence each, every number a claim (``Writer.m``/``Writer.val``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from healthplatform.etl.narratives import render as r
from healthplatform.etl.narratives.writer import Writer

Json = dict[str, Any]
Phrase = Callable[[Writer, Json], str | None]

BP_LABELS = {
    "normal": "normal",
    "elevated": "elevated",
    "stage_1": "stage 1 hypertension range",
    "stage_2": "stage 2 hypertension range",
    "crisis": "hypertensive crisis range",
}
NUTRIENT_LABELS = {
    "energy_kcal": "energy",
    "carbohydrates_g": "carbohydrates",
    "protein_g": "protein",
    "total_fat_g": "fat",
    "saturated_fat_g": "saturated fat",
    "unsaturated_fat_g": "unsaturated fat",
    "trans_fat_g": "trans fat",
    "fiber_g": "fibre",
    "sugar_g": "sugar",
    "sodium_mg": "sodium",
    "potassium_mg": "potassium",
    "cholesterol_mg": "cholesterol",
    "calcium_mg": "calcium",
    "iron_mg": "iron",
    "vitamin_c_mg": "vitamin C",
    "vitamin_d_ug": "vitamin D",
}
UNIT_SUFFIX = {"kcal": "kcal", "g": "g", "mg": "mg", "ug": "µg"}


def heart_rate(w: Writer, h: Json) -> str | None:
    hr = h.get("heart_rate")
    if not hr:
        return None
    return (
        f"heart rate {w.m('heart.heart_rate.min_bpm', 'bpm', r.bare())}-"
        f"{w.m('heart.heart_rate.max_bpm', 'bpm', r.BPM)}, mean of samples "
        f"{w.m('heart.heart_rate.mean_bpm', 'bpm', r.BPM)} ("
        f"{w.m('heart.heart_rate.samples', 'count', r.count('sample'))})"
    )


def resting(w: Writer, h: Json) -> str | None:
    rest = h.get("resting")
    if not rest:
        return None
    how = (
        "estimate: mean of the lowest tenth of samples"
        if rest["is_estimate"]
        else "from the device's resting heart rate"
    )
    return f"resting heart rate {w.m('heart.resting.bpm', 'bpm', r.BPM)} ({how})"


def hrv(w: Writer, h: Json) -> str | None:
    v = h.get("hrv")
    if not v:
        return None
    return (
        f"HRV (RMSSD) mean {w.m('heart.hrv.mean_ms', 'ms', r.MS)}, median "
        f"{w.m('heart.hrv.median_ms', 'ms', r.MS)} over "
        f"{w.m('heart.hrv.readings', 'count', r.count('reading'))}"
    )


def _excluded(item: Json) -> str:
    left_out = item.get("records", 0) - item.get("records_used", item.get("records", 0))
    return " (overlapping records from another app not counted)" if left_out else ""


def _total(key: str, render: r.Render, unit: str) -> Phrase:
    def phrase(w: Writer, a: Json) -> str | None:
        if key not in a:
            return None
        text = w.m(f"activity.{key}.total", unit, render)
        return text + _excluded(a[key])

    return phrase


def _distance(meters: float) -> str:
    from healthplatform.etl.narratives.fmt import num

    return f"{num(meters / 1000, 1)} km" if meters >= 1000 else f"{num(meters)} m"


def _sampled(domain: str, key: str, label: str, unit: str, digits: int = 0) -> Phrase:
    def phrase(w: Writer, d: Json) -> str | None:
        v = d.get(key)
        if not v:
            return None
        mean = w.m(f"{domain}.{key}.mean", unit, r.units(unit, digits))
        top = w.m(f"{domain}.{key}.max", unit, r.bare(digits))
        return f"{label} mean {mean} (max {top})"

    return phrase


def exercise(w: Writer, a: Json) -> str | None:
    e = a.get("exercise")
    if not e:
        return None
    kinds = ", ".join(
        f"{kind.lower().replace('_', ' ')} "
        f"{w.m(f'activity.exercise.types_min.{kind}', 'min', r.minutes)}"
        for kind, m in e["types_min"].items()
    )
    sessions = w.m("activity.exercise.sessions", "count",
                     r.count("exercise session"))  # fmt: skip
    return f"{sessions}, {w.m('activity.exercise.minutes', 'min', r.minutes)} ({kinds})"


def _series(
    domain: str, key: str, label: str, digits: int, unit: str, field: str = "latest"
) -> Phrase:
    def phrase(w: Writer, d: Json) -> str | None:
        v = d.get(key)
        if not v:
            return None
        shown = w.m(f"{domain}.{key}.{field}", unit, r.units(unit, digits))
        text = f"{label} {shown}".rstrip()
        if v["readings"] > 1:
            readings = w.m(f"{domain}.{key}.readings", "count", r.count("reading"))
            low = w.m(f"{domain}.{key}.min", unit, r.bare(digits))
            high = w.m(f"{domain}.{key}.max", unit, r.bare(digits))
            text += f" ({readings}, {low} to {high})"
        return text

    return phrase


def bmi(w: Writer, b: Json) -> str | None:
    v = b.get("bmi")
    if not v:
        return None
    if v["value"] is None:
        return "BMI unavailable (no height)"
    return (
        f"BMI {w.m('body.bmi.value', 'kg/m2', r.units('kg/m²', 1))} "
        f"({v['category']} range by WHO categories, height "
        f"{w.m('body.bmi.height_m', 'm', r.units('m', 2))})"
    )


def blood_pressure(w: Writer, vitals: Json) -> str | None:
    bp = vitals.get("blood_pressure")
    if not bp:
        return None
    text = (
        f"blood pressure mean "
        f"{w.m('vitals.blood_pressure.mean_systolic_mmhg', 'mmHg', r.bare())}/"
        f"{w.m('vitals.blood_pressure.mean_diastolic_mmhg', 'mmHg', r.units('mmHg'))}"
        f" over {w.m('vitals.blood_pressure.readings', 'count', r.count('reading'))}"
        f" (ACC/AHA 2017 category of the mean: {BP_LABELS[bp['category_of_mean']]})"
    )
    if bp["readings"] > 1:
        top = bp["highest_systolic_reading"]
        path = "vitals.blood_pressure.highest_systolic_reading"
        text += (
            f"; highest systolic reading "
            f"{w.m(f'{path}.systolic_mmhg', 'mmHg', r.bare())}/"
            f"{w.m(f'{path}.diastolic_mmhg', 'mmHg', r.units('mmHg'))} at "
            f"{w.m(f'{path}.time', 'HH:MM', r.hhmm)}"
        )
        dia = bp["highest_diastolic_reading"]
        if dia != top:
            path = "vitals.blood_pressure.highest_diastolic_reading"
            text += (
                f", highest diastolic reading "
                f"{w.m(f'{path}.systolic_mmhg', 'mmHg', r.bare())}/"
                f"{w.m(f'{path}.diastolic_mmhg', 'mmHg', r.units('mmHg'))} at "
                f"{w.m(f'{path}.time', 'HH:MM', r.hhmm)}"
            )
    return text


def spo2(w: Writer, vitals: Json) -> str | None:
    s = vitals.get("spo2")
    if not s:
        return None
    return (
        f"SpO2 mean {w.m('vitals.spo2.mean', '%', r.units('%'))}, lowest "
        f"{w.m('vitals.spo2.min', '%', r.units('%'))}, "
        f"{w.m('vitals.spo2.pct_readings_below_90', '%', r.percent)} of "
        f"{w.m('vitals.spo2.readings', 'count', r.count('reading'))} below "
        f"{w.const('vitals.spo2_low', 90, '%', r.units('%'))}"
    )


def _nutrient_unit(key: str) -> r.Render:
    return r.units(UNIT_SUFFIX[key.rsplit("_", 1)[1]])


def hydration(w: Writer, i: Json) -> str | None:
    h = i.get("hydration")
    if not h:
        return None
    return f"water {w.m('intake.hydration.volume_ml', 'mL', r.units('mL'))}"


def nutrition(w: Writer, i: Json) -> str | None:
    n = i.get("nutrition")
    if not n:
        return None
    parts = [
        f"{label} {w.m(f'intake.nutrition.{key}', key.rsplit('_', 1)[1], _nutrient_unit(key))}"
        for key, label in NUTRIENT_LABELS.items()
        if key in n
    ]
    logged = w.m("intake.nutrition.records", "count", r.count("nutrition record"))
    return f"{logged}: {', '.join(parts)}" if parts else logged


# (domain, summary key) -> phrase; the same keys as metrics.SUMMARY_KEYS
PHRASES: dict[tuple[str, str], Phrase] = {
    ("heart", "heart_rate"): heart_rate,
    ("heart", "resting"): resting,
    ("heart", "hrv"): hrv,
    ("activity", "steps"): _total("steps", r.units("steps"), "steps"),
    ("activity", "active_calories"): _total("active_calories", r.units("kcal active"), "kcal"),
    ("activity", "total_calories"): _total("total_calories", r.units("kcal total"), "kcal"),
    ("activity", "distance"): _total("distance", _distance, "m"),
    ("activity", "floors"): _total("floors", r.units("floors climbed"), "floors"),
    ("activity", "elevation"): _total("elevation", r.units("m elevation gained"), "m"),
    ("activity", "exercise"): exercise,
    ("activity", "cycling_cadence"): _sampled(
        "activity", "cycling_cadence", "cycling cadence", "rpm"
    ),
    ("activity", "power"): _sampled("activity", "power", "power", "W"),
    ("activity", "speed"): _sampled("activity", "speed", "speed", "m/s", 1),
    ("activity", "steps_cadence"): _sampled(
        "activity", "steps_cadence", "step cadence", "steps/min"
    ),
    ("activity", "vo2_max"): _series("activity", "vo2_max", "VO2 max", 1, "mL/kg/min"),
    ("body", "weight"): _series("body", "weight", "weight", 1, "kg"),
    ("body", "height"): _series("body", "height", "height", 2, "m"),
    ("body", "body_fat"): _series("body", "body_fat", "body fat", 1, "%"),
    ("body", "lean_mass"): _series("body", "lean_mass", "lean mass", 1, "kg"),
    ("body", "bone_mass"): _series("body", "bone_mass", "bone mass", 1, "kg"),
    ("body", "body_water_mass"): _series("body", "body_water_mass", "body water", 1, "kg"),
    ("body", "bmr"): _series("body", "bmr", "BMR", 0, "kcal/day"),
    ("vitals", "blood_pressure"): blood_pressure,
    ("vitals", "spo2"): spo2,
    ("vitals", "respiratory_rate"): _series(
        "vitals", "respiratory_rate", "respiratory rate", 0, "breaths/min", "mean"
    ),
    ("vitals", "body_temperature"): _series(
        "vitals", "body_temperature", "body temperature", 1, "°C"
    ),
    ("vitals", "basal_body_temperature"): _series(
        "vitals", "basal_body_temperature", "basal body temperature", 1, "°C"
    ),
    ("intake", "hydration"): hydration,
    ("intake", "nutrition"): nutrition,
}
_BODY_ORDER = (
    "weight",
    "bmi",
    "height",
    "body_fat",
    "lean_mass",
    "bone_mass",
    "body_water_mass",
    "bmr",
)
TITLES = {"activity": "Activity", "body": "Body", "vitals": "Vitals", "intake": "Intake"}


def listing(w: Writer, domain: str, d: Json) -> str:
    keys = _BODY_ORDER if domain == "body" else tuple(k for dom, k in PHRASES if dom == domain)
    phrases = [
        p for key in keys if (p := (bmi(w, d) if key == "bmi" else PHRASES[(domain, key)](w, d)))
    ]
    return f"{TITLES[domain]}: {'; '.join(phrases)}."
