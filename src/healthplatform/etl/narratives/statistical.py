"""Statistical layer: the day's numbers with units, one sentence per domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from healthplatform.etl.metrics.daily import DOMAINS
from healthplatform.etl.narratives.fmt import duration, num, pct, plural

Json = dict[str, Any]
Phrase = Callable[[Json], str | None]

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


def glucose(g: Json) -> str:
    s = g["readings_summary"]
    if g["status"] != "ok":
        return (
            f"Glucose: insufficient data ({g['reason']}); {plural(s['count'], 'reading')} "
            f"from {num(s['min_mg_dl'])} to {num(s['max_mg_dl'])} mg/dL, "
            "no CGM metrics computed."
        )
    return (
        f"Glucose (CGM): mean {num(g['mean_mg_dl'])} mg/dL (SD {num(g['sd_mg_dl'])}, "
        f"CV {pct(g['cv_pct'])}), GMI {num(g['gmi_pct'], 1)} %; time in range 70-180 mg/dL "
        f"{pct(g['tir_70_180_pct'])}, below 70 {pct(g['tbr_70_pct'])} (below 54 "
        f"{pct(g['tbr_54_pct'])}), above 180 {pct(g['tar_180_pct'])} (above 250 "
        f"{pct(g['tar_250_pct'])}); {plural(s['count'], 'reading')}, "
        f"{pct(g['coverage']['sufficiency_pct'])} of expected."
    )


def heart_rate(h: Json) -> str | None:
    hr = h.get("heart_rate")
    if not hr:
        return None
    return (
        f"heart rate {num(hr['min_bpm'])}-{num(hr['max_bpm'])} bpm, mean "
        f"{num(hr['mean_bpm'])} bpm over {plural(hr['samples'], 'sample')} "
        f"({h['coverage']['hours_with_samples']} of 24 h covered)"
    )


def resting(h: Json) -> str | None:
    r = h.get("resting")
    if not r:
        return None
    how = (
        "estimate: mean of the lowest decile of samples"
        if r["is_estimate"]
        else "from the device's resting heart rate"
    )
    return f"resting heart rate {num(r['bpm'])} bpm ({how})"


def hrv(h: Json) -> str | None:
    v = h.get("hrv")
    if not v:
        return None
    return (
        f"HRV (RMSSD) mean {num(v['mean_ms'])} ms, median {num(v['median_ms'])} ms over "
        f"{plural(v['readings'], 'reading')}"
    )


def heart(h: Json) -> str:
    parts = [p for p in (heart_rate(h), resting(h), hrv(h)) if p]
    head = "Heart" if h["status"] == "ok" else f"Heart: insufficient data ({h['reason']})"
    return f"{head}: {'; '.join(parts)}." if parts else f"{head}."


def sleep(s: Json) -> str:
    m = s["main"]
    text = f"Sleep: in bed {m['bedtime']}-{m['wake_time']} ({duration(m['time_in_bed_min'])})"
    if s["status"] != "ok":
        text += f"; insufficient data ({s['reason']})"
    elif not m["has_stages"]:
        text += f", total sleep {duration(m['tst_min'])} (no stage data: taken as time in bed)"
    else:
        stages = [
            f"{label} {duration(m['stages_min'][key])} ({pct(m['stages_pct_of_tst'][key])})"
            for key, label in (
                ("light", "light"),
                ("deep", "deep"),
                ("rem", "REM"),
                ("sleeping", "unstaged"),
            )
            if m["stages_min"][key] > 0
        ]
        text += (
            f", total sleep {duration(m['tst_min'])}, efficiency {pct(m['efficiency_pct'])}"
            + (f"; {', '.join(stages)}" if stages else "")
            + f"; {plural(m['awakenings'], 'awakening')}, wake after sleep onset "
            f"{duration(m['waso_min'])}"
        )
        if m["sleep_onset_latency_min"] is not None:
            text += f", sleep onset latency {duration(m['sleep_onset_latency_min'])}"
    text += f"; midpoint {m['midpoint']}"
    naps = s["naps"]
    if naps["count"]:
        text += f"; {plural(naps['count'], 'nap')} ({duration(naps['sleep_min'])} of sleep)"
    return text + "."


def _total(key: str, render: Callable[[float], str]) -> Phrase:
    def phrase(a: Json) -> str | None:
        return render(a[key]["total"]) if key in a else None

    return phrase


def _distance(meters: float) -> str:
    return f"{num(meters / 1000, 1)} km" if meters >= 1000 else f"{num(meters)} m"


def _sampled(key: str, label: str, unit: str, digits: int = 0) -> Phrase:
    def phrase(a: Json) -> str | None:
        v = a.get(key)
        if not v:
            return None
        return f"{label} mean {num(v['mean'], digits)} {unit} (max {num(v['max'], digits)})"

    return phrase


def exercise(a: Json) -> str | None:
    e = a.get("exercise")
    if not e:
        return None
    kinds = ", ".join(
        f"{kind.lower().replace('_', ' ')} {duration(m)}" for kind, m in e["types_min"].items()
    )
    return f"{plural(e['sessions'], 'exercise session')}, {duration(e['minutes'])} ({kinds})"


def _series(key: str, label: str, digits: int, unit: str, field: str = "latest") -> Phrase:
    def phrase(d: Json) -> str | None:
        v = d.get(key)
        if not v:
            return None
        text = f"{label} {num(v[field], digits)} {unit}".rstrip()
        if v["readings"] > 1:
            text += f" ({v['readings']} readings, {num(v['min'], digits)}-{num(v['max'], digits)})"
        return text

    return phrase


def bmi(b: Json) -> str | None:
    v = b.get("bmi")
    if not v:
        return None
    if v["value"] is None:
        return "BMI unavailable (no height)"
    return (
        f"BMI {num(v['value'], 1)} kg/m² ({v['category']} range by WHO categories, "
        f"height {num(v['height_m'], 2)} m)"
    )


def blood_pressure(v: Json) -> str | None:
    bp = v.get("blood_pressure")
    if not bp:
        return None
    text = (
        f"blood pressure mean {num(bp['mean_systolic_mmhg'])}/{num(bp['mean_diastolic_mmhg'])}"
        f" mmHg over {plural(bp['readings'], 'reading')} (ACC/AHA 2017 category of the mean: "
        f"{BP_LABELS[bp['category_of_mean']]}"
    )
    if bp["highest_category"] != bp["category_of_mean"]:
        text += f"; highest reading: {BP_LABELS[bp['highest_category']]}"
    return text + ")"


def spo2(v: Json) -> str | None:
    s = v.get("spo2")
    if not s:
        return None
    return (
        f"SpO2 mean {num(s['mean'])} %, lowest {num(s['min'])} %, "
        f"{pct(s['pct_readings_below_90'])} of {plural(s['readings'], 'reading')} below 90 %"
    )


def hydration(i: Json) -> str | None:
    h = i.get("hydration")
    return f"water {num(h['volume_ml'])} mL" if h else None


def nutrition(i: Json) -> str | None:
    n = i.get("nutrition")
    if not n:
        return None
    parts = [
        f"{label} {num(n[key])} {UNIT_SUFFIX[key.rsplit('_', 1)[1]]}"
        for key, label in NUTRIENT_LABELS.items()
        if key in n
    ]
    logged = f"{plural(n['records'], 'nutrition record')}"
    return f"{logged}: {', '.join(parts)}" if parts else logged


# (domain, summary key) -> phrase; the same keys as metrics.SUMMARY_KEYS
PHRASES: dict[tuple[str, str], Phrase] = {
    ("glucose", "readings_summary"): glucose,
    ("heart", "heart_rate"): heart_rate,
    ("heart", "resting"): resting,
    ("heart", "hrv"): hrv,
    ("sleep", "main"): sleep,
    ("activity", "steps"): _total("steps", lambda v: f"{num(v)} steps"),
    ("activity", "active_calories"): _total("active_calories", lambda v: f"{num(v)} kcal active"),
    ("activity", "total_calories"): _total("total_calories", lambda v: f"{num(v)} kcal total"),
    ("activity", "distance"): _total("distance", _distance),
    ("activity", "floors"): _total("floors", lambda v: f"{num(v)} floors climbed"),
    ("activity", "elevation"): _total("elevation", lambda v: f"{num(v)} m elevation gained"),
    ("activity", "exercise"): exercise,
    ("activity", "cycling_cadence"): _sampled("cycling_cadence", "cycling cadence", "rpm"),
    ("activity", "power"): _sampled("power", "power", "W"),
    ("activity", "speed"): _sampled("speed", "speed", "m/s", 1),
    ("activity", "steps_cadence"): _sampled("steps_cadence", "step cadence", "steps/min"),
    ("activity", "vo2_max"): _series("vo2_max", "VO2 max", 1, "mL/kg/min"),
    ("body", "weight"): _series("weight", "weight", 1, "kg"),
    ("body", "height"): _series("height", "height", 2, "m"),
    ("body", "body_fat"): _series("body_fat", "body fat", 1, "%"),
    ("body", "lean_mass"): _series("lean_mass", "lean mass", 1, "kg"),
    ("body", "bone_mass"): _series("bone_mass", "bone mass", 1, "kg"),
    ("body", "body_water_mass"): _series("body_water_mass", "body water", 1, "kg"),
    ("body", "bmr"): _series("bmr", "BMR", 0, "kcal/day"),
    ("vitals", "blood_pressure"): blood_pressure,
    ("vitals", "spo2"): spo2,
    ("vitals", "respiratory_rate"): _series(
        "respiratory_rate", "respiratory rate", 0, "breaths/min", "mean"
    ),
    ("vitals", "body_temperature"): _series("body_temperature", "body temperature", 1, "°C"),
    ("vitals", "basal_body_temperature"): _series(
        "basal_body_temperature", "basal body temperature", 1, "°C"
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


def _listing(title: str, domain: str, d: Json, extra: str = "") -> str:
    phrases: list[str] = []
    keys = _BODY_ORDER if domain == "body" else tuple(k for dom, k in PHRASES if dom == domain)
    for key in keys:
        phrase = bmi(d) if key == "bmi" else PHRASES[(domain, key)](d)
        if phrase:
            phrases.append(phrase)
    return f"{title}: {'; '.join(phrases)}{extra}."


def activity(a: Json) -> str:
    excluded = a["coverage"]["overlapping_records_excluded"]
    extra = (
        f" ({plural(excluded, 'overlapping record')} from other sources not counted)"
        if excluded
        else ""
    )
    return _listing("Activity", "activity", a, extra)


def domain_sentence(domain: str, d: Json) -> str:
    if domain == "glucose":
        return glucose(d)
    if domain == "heart":
        return heart(d)
    if domain == "sleep":
        return sleep(d)
    if domain == "activity":
        return activity(d)
    return _listing({"body": "Body", "vitals": "Vitals", "intake": "Intake"}[domain], domain, d)


def statistical(day_label: str, metrics: dict[str, Json]) -> str:
    """One line per domain present, in the fixed domain order."""
    lines = [f"Daily summary for {day_label}."]
    lines += [domain_sentence(name, metrics[name]) for name in DOMAINS if name in metrics]
    if len(lines) == 1:
        lines.append("No data for this day.")
    return "\n".join(lines)


def type_phrase(domain: str, key: str, d: Json) -> str | None:
    """The phrase for one record type's summary inside a domain result."""
    return PHRASES[(domain, key)](d)
