"""Semantic layer: cautious, non-diagnostic interpretation of patterns and data gaps.

A meaning is a template; the thresholds it names (``{very_low}``) are definition claims.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from healthplatform.etl.narratives import render as r
from healthplatform.etl.narratives.writer import Writer

CLINICIAN = "consider discussing it with a clinician"
CLOSING = "This summary describes measurements; it is not a diagnosis."

# placeholder -> (definition name, value, unit, renderer)
CONSTANTS: dict[str, tuple[str, float, str, r.Render]] = {
    "very_low": ("glucose.very_low", 54, "mg/dL", r.MG),
    "cv_high": ("glucose.cv_high", 36, "%", r.percent),
    "target_days": ("glucose.target_days", 14, "days", r.count("day")),
    "tachycardia": ("heart.tachycardia", 100, "bpm", r.BPM),
    "sleep_recommended": ("sleep.recommended", 420, "min", r.minutes),
    "crisis_systolic": ("vitals.crisis_systolic", 180, "mmHg", r.bare()),
    "crisis_diastolic": ("vitals.crisis_diastolic", 120, "mmHg", r.units("mmHg")),
    "spo2_low": ("vitals.spo2_low", 90, "%", r.units("%")),
}

MEANINGS: dict[str, str] = {
    "glucose.overnight_low": (
        "Low glucose overnight may reflect medication timing, a missed evening meal, alcohol "
        "or exercise, and can also be a sensor artefact (for example lying on the sensor); "
        f"if it recurs, {CLINICIAN}."
    ),
    "glucose.daytime_low": (
        "Low glucose during the day may follow exercise, a delayed or small meal, alcohol or "
        f"medication; if it recurs or comes with symptoms, {CLINICIAN}."
    ),
    "glucose.very_low": (
        "The international consensus treats readings below {very_low} as clinically "
        f"significant; {CLINICIAN}, promptly if they came with symptoms."
    ),
    "glucose.below_range": (
        "Time below range above the consensus targets may be worth reviewing; the targets "
        "are set over {target_days}, so one day is only an indication; "
        f"{CLINICIAN} if it recurs."
    ),
    "glucose.above_range": (
        "The consensus targets are set for people with diabetes over {target_days}; time "
        "above range on one day may reflect meals, activity, illness or stress. If it "
        f"persists, {CLINICIAN}."
    ),
    "glucose.high_variability": (
        "Variability above {cv_high} CV is above the consensus threshold for stable glucose; "
        "it may reflect meal composition or timing, activity, or sensor noise."
    ),
    "glucose.post_meal_peak": (
        "Rises after meals are expected; their size may reflect the meal's carbohydrate "
        "content and timing."
    ),
    "glucose.rise": (
        "A rise of this size within two hours may reflect a meal; the data alone cannot tell "
        "what caused it."
    ),
    "glucose.rebound": (
        "A rise straight after a low often reflects the recovery from it, for example "
        "carbohydrates taken to treat the low, or the body's own counter-regulation."
    ),
    "glucose.trend": (
        "A steady rise or fall across the day may reflect meals, activity or sensor drift."
    ),
    "cross.short_sleep_glucose_higher": (
        "Short sleep has been linked with higher glucose variability in research studies; "
        "this day may reflect that or other factors such as meals, activity or stress. If "
        f"the pattern recurs, {CLINICIAN}."
    ),
    "cross.short_sleep_glucose_similar": (
        "On this day glucose variability did not appear to change after short sleep."
    ),
    "cross.short_sleep_glucose_lower": (
        "On this day glucose variability was not higher after short sleep."
    ),
    "cross.short_sleep_glucose_unknown": (
        "More days of glucose data are needed before sleep and glucose can be compared."
    ),
    "heart.elevated": (
        "Heart rate above {tachycardia} outside recorded exercise may reflect unrecorded "
        "activity, stress, caffeine, fever or other factors; if it happens at rest or with "
        f"symptoms such as palpitations, dizziness or breathlessness, {CLINICIAN}."
    ),
    "heart.hrv_below": (
        "HRV below your usual range may reflect stress, short or poor sleep, illness, alcohol "
        "or hard training; a single day means little on its own."
    ),
    "heart.hrv_above": (
        "HRV above your usual range often accompanies good recovery; day-to-day variation "
        "is normal."
    ),
    "sleep.short": (
        "Less than {sleep_recommended} of sleep is below the amount recommended for adults; "
        "occasional short nights are common, while a persistent pattern is worth addressing."
    ),
    "sleep.low_efficiency": (
        "A lower efficiency means a larger share of time in bed was spent awake; this may "
        "reflect the sleep environment, stress, or how the device scores wakefulness."
    ),
    "sleep.irregular_timing": (
        "Irregular sleep timing may reflect schedule changes, travel or social plans; a "
        "regular schedule generally supports sleep."
    ),
    "vitals.bp_stage_1": (
        "One day's readings cannot establish high blood pressure: the guideline classifies "
        "blood pressure from averages of repeated readings on separate occasions. Consider "
        "rechecking, and discussing the readings with a clinician."
    ),
    "vitals.bp_stage_2": (
        "One day's readings cannot establish high blood pressure, but readings in this range "
        "are worth rechecking soon; consider discussing them with a clinician."
    ),
    "vitals.bp_crisis": (
        "Readings above {crisis_systolic}/{crisis_diastolic} can be serious: recheck after a "
        "few minutes of rest, and seek urgent medical care if they stay this high or come "
        "with symptoms such as chest pain, shortness of breath, weakness or vision changes."
    ),
    "vitals.spo2_low": (
        "SpO2 readings below {spo2_low} are often caused by movement or poor sensor fit, "
        f"especially at night; if low readings recur or come with breathlessness, {CLINICIAN}."
    ),
}
INSUFFICIENT = "{title}: insufficient data; its daily metrics are not interpreted."
NOTHING = "No notable patterns were found in the available data."


def meaning(w: Writer, code: str) -> str:
    """The meaning of ``code`` with its thresholds as claims (in reading order)."""
    template = MEANINGS[code]
    names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    values: dict[str, Any] = {}
    for name in names:
        if name not in values:
            values[name] = w.const(*CONSTANTS[name])
    return template.format(**values)


def semantic(
    w: Writer, domains: Sequence[tuple[str, str]], findings: Sequence[tuple[str, str]]
) -> None:
    """Write the insufficient-data notes (``domains``: (domain, status)), one
    interpretation per pattern code, then the closing line."""
    for name, status in domains:
        if status != "ok":
            w.at("semantic", name).say(INSUFFICIENT.format(title=name.capitalize()))
    seen: set[str] = set()
    for code, domain in findings:
        if code not in seen:
            seen.add(code)
            w.at("semantic", domain).say(meaning(w, code))
    if not findings:
        w.at("semantic", "day").say(NOTHING)
    w.at("semantic", "day").say(CLOSING)
