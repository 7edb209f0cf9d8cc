"""Semantic layer: cautious, non-diagnostic interpretation of findings and data gaps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthplatform.etl.metrics.daily import DOMAINS
from healthplatform.etl.narratives.patterns import Finding

Json = dict[str, Any]

CLINICIAN = "consider discussing it with a clinician"
CLOSING = "This summary describes measurements; it is not a diagnosis."

MEANINGS: dict[str, str] = {
    "glucose.overnight_low": (
        "Low glucose overnight may reflect medication timing, a missed evening meal, alcohol "
        "or exercise, and can also be a sensor artefact (for example lying on the sensor); "
        f"if it recurs, {CLINICIAN}."
    ),
    "glucose.overnight_low_reading": (
        "Brief low readings can be sensor artefacts; they are worth watching if they recur."
    ),
    "glucose.very_low": (
        "The international consensus treats readings below 54 mg/dL as clinically "
        f"significant; {CLINICIAN}, promptly if they came with symptoms."
    ),
    "glucose.below_range": (
        "Time below range above the consensus targets may be worth reviewing; the targets "
        f"are set over 14 days, so one day is only an indication; {CLINICIAN} if it recurs."
    ),
    "glucose.above_range": (
        "The consensus targets are set for people with diabetes over 14 days; time above "
        "range on one day may reflect meals, activity, illness or stress. If it persists, "
        f"{CLINICIAN}."
    ),
    "glucose.high_variability": (
        "Variability above 36 % CV is above the consensus threshold for stable glucose; it "
        "may reflect meal composition or timing, activity, or sensor noise."
    ),
    "glucose.post_meal_peak": (
        "Rises after meals are expected; their size may reflect the meal's carbohydrate "
        "content and timing."
    ),
    "glucose.rise": (
        "A rise of this size within two hours may reflect a meal; the data alone cannot tell "
        "what caused it."
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
        "Heart rate above 100 bpm outside recorded exercise may reflect unrecorded activity, "
        "stress, caffeine, fever or other factors; if it happens at rest or with symptoms "
        f"such as palpitations, dizziness or breathlessness, {CLINICIAN}."
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
        "Less than 7 hours is below the amount recommended for adults; occasional short "
        "nights are common, while a persistent pattern is worth addressing."
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
        "Readings above 180/120 mmHg can be serious: recheck after a few minutes of rest, and "
        "seek urgent medical care if they stay this high or come with symptoms such as chest "
        "pain, shortness of breath, weakness or vision changes."
    ),
    "vitals.spo2_low": (
        "SpO2 readings below 90 % are often caused by movement or poor sensor fit, especially "
        f"at night; if low readings recur or come with breathlessness, {CLINICIAN}."
    ),
}
TITLES = {d: d.capitalize() for d in DOMAINS}


def semantic(metrics: dict[str, Json], findings: Sequence[Finding]) -> str:
    """Insufficient-data notes, one interpretation per finding code, then the closing line."""
    lines = [
        f"{TITLES[name]}: insufficient data ({metrics[name]['reason']}); its daily metrics "
        "are not interpreted."
        for name in DOMAINS
        if name in metrics and metrics[name]["status"] != "ok"
    ]
    seen: set[str] = set()
    for finding in findings:
        if finding.code not in seen:
            seen.add(finding.code)
            lines.append(MEANINGS[finding.code])
    if not findings:
        lines.append("No notable patterns were found in the available data.")
    lines.append(CLOSING)
    return "\n".join(lines)
