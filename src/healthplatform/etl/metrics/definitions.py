"""The metric registry: name (path in ``compute_day`` output), unit, definition, source.

A name ``domain.key`` covers everything under that key in the output; docs/metrics.md holds
the same table (``definitions_markdown()``), a test keeps them equal.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFINITIONS_VERSION = "2026.12.1"


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    unit: str
    definition: str
    citation: str


BATTELINO = (
    "Battelino T, et al. Clinical Targets for Continuous Glucose Monitoring Data "
    "Interpretation: Recommendations From the International Consensus on Time in Range. "
    "Diabetes Care 2019;42(8):1593-1603."
)
BERGENSTAL = (
    "Bergenstal RM, et al. Glucose Management Indicator (GMI): A New Term for Estimating A1C "
    "From Continuous Glucose Monitoring. Diabetes Care 2018;41(11):2275-2280."
)
DANNE = (
    "Danne T, et al. International Consensus on Use of Continuous Glucose Monitoring. "
    "Diabetes Care 2017;40(12):1631-1640."
)
WHELTON = (
    "Whelton PK, et al. 2017 ACC/AHA/AAPA/ABC/ACPM/AGS/APhA/ASH/ASPC/NMA/PCNA Guideline for "
    "the Prevention, Detection, Evaluation, and Management of High Blood Pressure in Adults. "
    "Hypertension 2018;71(6):e13-e115."
)
AASM = (
    "Berry RB, et al. The AASM Manual for the Scoring of Sleep and Associated Events: Rules, "
    "Terminology and Technical Specifications. American Academy of Sleep Medicine."
)
WATSON = (
    "Watson NF, et al. Recommended Amount of Sleep for a Healthy Adult: A Joint Consensus "
    "Statement of the AASM and SRS. Sleep 2015;38(6):843-844."
)
OHAYON = (
    "Ohayon M, et al. National Sleep Foundation's sleep quality recommendations: first "
    "report. Sleep Health 2017;3(1):6-19."
)
ROENNEBERG = (
    "Roenneberg T, Wirz-Justice A, Merrow M. Life between clocks: daily temporal patterns of "
    "human chronotypes. J Biol Rhythms 2003;18(1):80-90."
)
TASK_FORCE = (
    "Task Force of the ESC and NASPE. Heart rate variability: standards of measurement, "
    "physiological interpretation and clinical use. Circulation 1996;93(5):1043-1065."
)
PAGE = (
    "Page RL, et al. 2015 ACC/AHA/HRS Guideline for the Management of Adult Patients With "
    "Supraventricular Tachycardia. Circulation 2016;133(14):e506-e574."
)
WHO_BMI = (
    "World Health Organization. Obesity: preventing and managing the global epidemic. "
    "WHO Technical Report Series 894, 2000."
)
WHO_SPO2 = "World Health Organization. Pulse Oximetry Training Manual. Geneva: WHO; 2011."
HC = "Android Health Connect record type (androidx.health.connect.client.records)."
PROJECT = "Project definition (no external standard); see docs/metrics.md."
BATTELINO_2023 = (
    "Battelino T, et al. Continuous glucose monitoring and metrics for clinical trials: an "
    "international consensus statement. Lancet Diabetes Endocrinol 2023;11(1):42-57."
)
FEKEDULEGN = (
    "Fekedulegn D, et al. Actigraphy-Based Assessment of Sleep Parameters. Ann Work Expo "
    "Health 2020;64(4):350-367 (wake bouts of >= 5 min as long wake episodes)."
)

_DAY = "per local day (see day rules)"
_SERIES = "readings of the day: count, latest (time), min, max, mean"

_ROWS: tuple[tuple[str, str, str, str], ...] = (
    # --- every domain
    ("status", "-", "'ok', or 'insufficient data' with a 'reason' when the day's data cannot "
     "support the domain's headline metrics.", PROJECT),
    ("coverage", "-", "What data there was: record counts by type, and per domain readings, "
     "samples, hours or % of expected.", PROJECT),
    # --- glucose
    ("glucose.coverage.sufficiency_pct", "%", "Readings / expected readings x 100, capped at "
     "100; expected = day minutes / median sampling interval (intervals < 30 s ignored). "
     "Under 70 %, or median interval > 15 min (not CGM), the day is 'insufficient data'. "
     "This project's per-day adaptation of the consensus rule, which asks for >= 70 % of "
     "data over 14 days.", BATTELINO),
    ("glucose.readings_summary", "mg/dL", "Count, min, max and mean of the day's readings, "
     "reported even when the day is insufficient for CGM metrics.", PROJECT),
    ("glucose.mean_mg_dl", "mg/dL", "Arithmetic mean of the day's readings.", BATTELINO),
    ("glucose.sd_mg_dl", "mg/dL", "Sample standard deviation (n - 1) of the readings.",
     BATTELINO),
    ("glucose.cv_pct", "%", "Coefficient of variation = SD / mean x 100; <= 36 % is the "
     "consensus threshold for stable glucose.", DANNE),
    ("glucose.tir_70_180_pct", "% of readings", "Readings 70-180 mg/dL inclusive. "
     "TBR70 + TIR + TAR180 = 100 %.", BATTELINO),
    ("glucose.tbr_70_pct", "% of readings", "Readings < 70 mg/dL (includes < 54).",
     BATTELINO),
    ("glucose.tbr_54_pct", "% of readings", "Readings < 54 mg/dL (subset of < 70).",
     BATTELINO),
    ("glucose.tar_180_pct", "% of readings", "Readings > 180 mg/dL (includes > 250).",
     BATTELINO),
    ("glucose.tar_250_pct", "% of readings", "Readings > 250 mg/dL (subset of > 180).",
     BATTELINO),
    ("glucose.low_episodes", "list", "Hypoglycaemia events (consensus): each CGM reading "
     "covers the day's median sampling interval; an event begins with readings < 70 mg/dL "
     "covering >= 15 consecutive minutes and ends when readings >= 70 mg/dL cover >= 15 "
     "consecutive minutes (or at a data gap > 15 min / the day's end): start, end, "
     "minutes, readings, nadir ('extreme'), how it ended. Only with CGM sampling "
     "(median interval <= 15 min).", BATTELINO_2023),
    ("glucose.very_low_episodes", "list", "As low_episodes, beginning with >= 15 minutes "
     "below 54 mg/dL; it also ends after >= 15 minutes at or above 70 mg/dL.",
     BATTELINO_2023),
    ("glucose.readings_below_54", "mg/dL", "Every reading < 54 mg/dL, event or not: count, "
     "lowest and its time (readings below 54 are clinically significant).", BATTELINO),
    ("glucose.overnight", "mg/dL", "Readings 00:00-06:00 local: count, readings < 70, nadir "
     "and its time, the low events that began then; low_detected when one exists.",
     PROJECT),
    ("glucose.post_meal", "mg/dL", "Only with meal-tagged readings: for each BEFORE_MEAL or "
     "meal-typed reading, the peak within 2 h and the rise; count and max of AFTER_MEAL "
     "readings.", PROJECT),
    ("glucose.largest_rise_2h", "mg/dL", "Largest increase from a reading to a later one at "
     "most 2 h after it, with both times; after_low when it starts below 70 mg/dL or within "
     "30 min after a reading below 70 (a rebound, not a meal).", PROJECT),
    ("glucose.trend", "mg/dL/h", "Least-squares slope of glucose on time; change = slope x "
     "covered hours; 'rising'/'falling' when |change| >= 20 mg/dL, else 'stable'. Only when "
     "the day is sufficient.", PROJECT),
    # --- heart
    ("heart.coverage.hours_with_samples", "h", "Local clock hours with >= 1 heart-rate "
     "sample; under 12 the day is 'insufficient data' for a daily profile.", PROJECT),
    ("heart.heart_rate", "bpm", "Heart-rate samples of the day (each sample counts once): "
     "samples, min, mean, max.", HC),
    ("heart.heart_rate.mean_bpm", "bpm", "Mean of the day's heart-rate samples (each sample "
     "weighs the same: a mean of samples, not time-weighted).", HC),
    ("heart.resting", "bpm", "Mean of the day's RestingHeartRateRecords; without one, and "
     "with a sufficient day of >= 50 samples, the mean of the lowest decile (ceil(n/10)) of "
     "samples, flagged is_estimate.", PROJECT),
    ("heart.elevated_episodes", "list", "Runs of samples above 100 bpm (tachycardia) spanning "
     ">= 10 min (first to last sample; a gap > 5 min breaks a run) outside exercise sessions "
     "and the 15 min after them.", PAGE),
    ("heart.hrv", "ms", "RMSSD readings of the day: count, mean, median, min, max.",
     TASK_FORCE),
    ("heart.hrv.trend", "ms", "Day mean vs baseline of previous days (>= 3 needed): baseline "
     "mean and sample SD, delta, delta %, direction 'below' (< mean - SD), 'above' "
     "(> mean + SD) or 'within'.", PROJECT),
    # --- sleep
    ("sleep.main", "-", "The main sleep: the longest kept session ending on the day (wake-up "
     "day). Of overlapping sessions one is kept: with stages first, then longest.", AASM),
    ("sleep.main.time_in_bed_min", "min", "Session end - start.", AASM),
    ("sleep.main.tst_min", "min", "Total sleep time: LIGHT + DEEP + REM + SLEEPING minutes; "
     "without stages, the session duration. None when stages cover < 50 % of time in bed.",
     AASM),
    ("sleep.main.scored_pct", "%", "Minutes with a stage other than UNKNOWN / time in bed.",
     PROJECT),
    ("sleep.main.efficiency_pct", "%", "TST / time in bed x 100 (stages needed); >= 85 % is "
     "the usual reference for good sleep quality.", OHAYON),
    ("sleep.main.sleep_onset_latency_min", "min", "Start of the first sleep stage - session "
     "start.", AASM),
    ("sleep.main.waso_min", "min", "Wake after sleep onset: AWAKE/OUT_OF_BED minutes between "
     "the first sleep stage and the end of the last one; none without a sleep stage.", AASM),
    ("sleep.main.awakenings", "count", "Wake bouts (consecutive AWAKE/OUT_OF_BED segments; "
     "UNKNOWN ignored) of >= 5 min between sleep onset and the end of the last sleep stage; "
     "shorter bouts (Samsung writes 30-s AWAKE segments) count in WASO only; none without a "
     "sleep stage.", FEKEDULEGN),
    ("sleep.main.stages_min", "min", "Minutes per stage (light, deep, rem, sleeping, awake, "
     "out_of_bed, unknown).", HC),
    ("sleep.main.stages_pct_of_tst", "%", "Minutes of each sleep stage / TST x 100.", AASM),
    ("sleep.main.has_stages", "bool", "Whether the session carries stage segments.", HC),
    ("sleep.main.bedtime", "HH:MM", "Local session start (start offset).", PROJECT),
    ("sleep.main.wake_time", "HH:MM", "Local session end (end offset).", PROJECT),
    ("sleep.main.midpoint", "HH:MM", "Local midpoint of the session (end offset).",
     ROENNEBERG),
    ("sleep.main.bedtime_rel_min", "min", "Bedtime in minutes from local midnight of the "
     "wake-up day (negative = evening before).", PROJECT),
    ("sleep.main.wake_rel_min", "min", "Wake time in minutes from local midnight of the "
     "wake-up day.", PROJECT),
    ("sleep.main.midpoint_rel_min", "min", "Midpoint in minutes from local midnight of the "
     "wake-up day; used for timing regularity.", ROENNEBERG),
    ("sleep.naps", "count, min", "Other kept sessions ending on the day: count and their "
     "sleep minutes.", PROJECT),
    ("sleep.total_sleep_min", "min", "Main-sleep TST + nap sleep (the day's total); the "
     "7-h adult recommendation is compared with the main sleep.", WATSON),
    # --- activity
    ("activity.steps", "steps", f"Sum of StepsRecord counts {_DAY}, split across midnight "
     "by overlap; overlapping records: largest non-overlapping total.", HC),
    ("activity.active_calories", "kcal", f"Active energy burned {_DAY}, same rules as steps.",
     HC),
    ("activity.total_calories", "kcal", f"Total energy burned (incl. BMR) {_DAY}, same rules "
     "as steps.", HC),
    ("activity.distance", "m", f"Distance {_DAY}, same rules as steps.", HC),
    ("activity.floors", "floors", f"Floors climbed {_DAY}, same rules as steps.", HC),
    ("activity.elevation", "m", f"Elevation gained {_DAY}, same rules as steps.", HC),
    ("activity.exercise", "count, min", "Exercise sessions overlapping the day: count, "
     "minutes of their union inside the day, minutes per exercise type.", HC),
    ("activity.cycling_cadence", "rpm", "Cycling cadence samples: count, min, mean, max.", HC),
    ("activity.power", "W", "Power samples: count, min, mean, max.", HC),
    ("activity.speed", "m/s", "Speed samples: count, min, mean, max.", HC),
    ("activity.steps_cadence", "steps/min", "Step cadence samples: count, min, mean, max.",
     HC),
    ("activity.vo2_max", "mL/kg/min", f"VO2 max {_SERIES}.", HC),
    # --- body
    ("body.weight", "kg", f"Weight {_SERIES}.", HC),
    ("body.height", "m", f"Height {_SERIES}.", HC),
    ("body.body_fat", "%", f"Body fat {_SERIES}.", HC),
    ("body.lean_mass", "kg", f"Lean body mass {_SERIES}.", HC),
    ("body.bone_mass", "kg", f"Bone mass {_SERIES}.", HC),
    ("body.body_water_mass", "kg", f"Body water mass {_SERIES}.", HC),
    ("body.bmr", "kcal/day", f"Basal metabolic rate {_SERIES}.", HC),
    ("body.bmi", "kg/m2", "Latest weight / height^2, height from the latest HeightRecord up "
     "to the day's end, else the height_m argument; category: underweight < 18.5, normal "
     "18.5-24.9, overweight 25-29.9, obese >= 30. Without height: value None, reason.",
     WHO_BMI),
    # --- vitals
    ("vitals.blood_pressure", "mmHg", "Readings, mean systolic/diastolic, the reading with "
     "the highest systolic and the reading with the highest diastolic (each a real "
     "reading, never a pair from two readings), ACC/AHA 2017 category of the mean and the "
     "highest category of any reading, counts per category: normal < 120/< 80, elevated "
     "120-129/< 80, stage 1 130-139 or 80-89, stage 2 >= 140 or >= 90, crisis > 180 and/or "
     "> 120.", WHELTON),
    ("vitals.spo2", "%", f"SpO2 {_SERIES}; readings and % of readings < 90 %; minutes < 90 % "
     "estimated (readings x median interval) only when sampling is <= 5 min.", WHO_SPO2),
    ("vitals.respiratory_rate", "breaths/min", f"Respiratory rate {_SERIES}.", HC),
    ("vitals.body_temperature", "°C", f"Body temperature {_SERIES}.", HC),
    ("vitals.basal_body_temperature", "°C", f"Basal body temperature {_SERIES}.", HC),
    # --- intake
    ("intake.hydration", "mL", f"Sum of water volume {_DAY}, split across midnight; "
     "overlapping records all count.", HC),
    ("intake.nutrition", "kcal, g, mg, ug", f"Sums {_DAY} of energy (kcal), macronutrients "
     "(g), sodium, potassium, cholesterol, calcium, iron, vitamin C (mg), vitamin D (ug); "
     "only nutrients present.", HC),
)  # fmt: skip

DEFINITIONS: dict[str, MetricDefinition] = {
    name: MetricDefinition(name, unit, definition, citation)
    for name, unit, definition, citation in _ROWS
}


def definitions_markdown() -> str:
    """The registry as a Markdown table (metric, unit, definition, source)."""
    lines = ["| Metric | Unit | Definition | Source |", "|---|---|---|---|"]
    for item in DEFINITIONS.values():
        cells = (f"`{item.name}`", item.unit, item.definition, item.citation)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
