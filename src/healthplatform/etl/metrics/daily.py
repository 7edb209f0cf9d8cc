"""``compute_day``: every domain's metrics for one user and one local calendar day."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date

from healthplatform.etl.metrics import activity, body, intake, vitals
from healthplatform.etl.metrics.activity import activity_day
from healthplatform.etl.metrics.body import body_day
from healthplatform.etl.metrics.common import Json, canonical
from healthplatform.etl.metrics.glucose import glucose_day
from healthplatform.etl.metrics.heart import heart_day
from healthplatform.etl.metrics.intake import intake_day
from healthplatform.etl.metrics.sleep import sleep_day
from healthplatform.etl.metrics.vitals import vitals_day
from healthplatform.healthconnect.observations import Observation

DOMAINS = ("glucose", "heart", "sleep", "activity", "body", "vitals", "intake")

# record type -> (domain, key of its daily summary inside the domain)
SUMMARY_KEYS: dict[str, tuple[str, str]] = {
    "BloodGlucoseRecord": ("glucose", "readings_summary"),
    "HeartRateRecord": ("heart", "heart_rate"),
    "RestingHeartRateRecord": ("heart", "resting"),
    "HeartRateVariabilityRmssdRecord": ("heart", "hrv"),
    "SleepSessionRecord": ("sleep", "main"),
    **{t: ("activity", key) for t, (key, _, _) in activity.CUMULATIVE.items()},
    **{t: ("activity", key) for t, (key, _, _) in activity.SAMPLED.items()},
    activity.EXERCISE: ("activity", "exercise"),
    activity.VO2_MAX: ("activity", "vo2_max"),
    **{t: ("body", key) for t, (key, _, _) in body.SERIES.items()},
    vitals.BLOOD_PRESSURE: ("vitals", "blood_pressure"),
    vitals.SPO2: ("vitals", "spo2"),
    **{t: ("vitals", key) for t, (key, _, _) in vitals.SERIES.items()},
    intake.HYDRATION: ("intake", "hydration"),
    intake.NUTRITION: ("intake", "nutrition"),
}


def compute_day(
    observations: Sequence[Observation],
    day: date,
    *,
    height_m: float | None = None,
    hrv_previous: Sequence[float] | None = None,
    domains: Collection[str] | None = None,
) -> dict[str, Json]:
    """Metrics per domain for the local ``day``; only domains with data that day appear.

    ``observations`` may span several days (needed for sleep ending that day, exercise
    windows, the latest height); duplicates (same type and ``hc_id``) are dropped and the
    input order does not matter. ``height_m`` is used for BMI when no HeightRecord is given;
    ``hrv_previous`` (previous days' mean RMSSD) adds an HRV trend. ``domains`` limits the
    work to those domains (default: all).
    """
    obs = canonical(observations)
    compute: dict[str, Callable[[], Json | None]] = {
        "glucose": lambda: glucose_day(obs, day),
        "heart": lambda: heart_day(obs, day, hrv_previous),
        "sleep": lambda: sleep_day(obs, day),
        "activity": lambda: activity_day(obs, day),
        "body": lambda: body_day(obs, day, height_m),
        "vitals": lambda: vitals_day(obs, day),
        "intake": lambda: intake_day(obs, day),
    }
    results = {name: fn() for name, fn in compute.items() if domains is None or name in domains}
    return {name: result for name, result in results.items() if result is not None}
