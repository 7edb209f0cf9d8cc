"""Activity metrics for one local day: cumulative totals, exercise, sampled series, VO2 max.

Cumulative records crossing local midnight are split in proportion to their overlap with
the day. When records of one type overlap in time (several apps reporting the same
activity) the non-overlapping subset with the largest total is used, so no minute is
counted twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from healthplatform.etl.metrics.common import (
    MINUTE_MS,
    Json,
    Piece,
    best_non_overlapping,
    day_piece,
    domain,
    instant_records_on,
    instants_on,
    num,
    of_type,
    record_counts,
    sample_summary,
    samples_on,
    series_summary,
    union_ms,
)
from healthplatform.healthconnect.observations import Observation

# record type -> (output key, field, unit)
CUMULATIVE: dict[str, tuple[str, str, str]] = {
    "StepsRecord": ("steps", "count", "steps"),
    "ActiveCaloriesBurnedRecord": ("active_calories", "energyInKilocalories", "kcal"),
    "TotalCaloriesBurnedRecord": ("total_calories", "energyInKilocalories", "kcal"),
    "DistanceRecord": ("distance", "distanceInMeters", "m"),
    "FloorsClimbedRecord": ("floors", "floors", "floors"),
    "ElevationGainedRecord": ("elevation", "elevationInMeters", "m"),
}
SAMPLED: dict[str, tuple[str, str, str]] = {
    "CyclingPedalingCadenceRecord": ("cycling_cadence", "revolutionsPerMinute", "rpm"),
    "PowerRecord": ("power", "powerInWatts", "W"),
    "SpeedRecord": ("speed", "speedInMetersPerSecond", "m/s"),
    "StepsCadenceRecord": ("steps_cadence", "rateInStepsPerMinute", "steps/min"),
}
EXERCISE = "ExerciseSessionRecord"
VO2_MAX = "Vo2MaxRecord"
VO2_FIELD = "vo2MillilitersPerMinuteKilogram"
RECORD_TYPES = (*CUMULATIVE, *SAMPLED, EXERCISE, VO2_MAX)


def counted_pieces(
    observations: Sequence[Observation], day: date, field: str
) -> tuple[list[Piece], list[Piece]]:
    """(every piece inside the day, the pieces counted): proportional split and overlap
    resolution. The day's total and its hourly chart both add up the counted pieces."""
    pieces: list[Piece] = []
    for obs in observations:
        value = num(obs.fields.get(field))
        piece = day_piece(obs, day)
        if value is not None and value >= 0 and piece is not None:
            pieces.append(piece)
    return pieces, best_non_overlapping(pieces, lambda p: share(p, field))


def share(piece: Piece, field: str) -> float:
    """The part of the record's amount inside the piece."""
    return float(piece.obs.fields[field]) * piece.fraction


def cumulative_total(observations: Sequence[Observation], day: date, field: str) -> Json | None:
    """Day total of ``field`` with proportional split and overlap resolution."""
    pieces, used = counted_pieces(observations, day, field)
    if not pieces:
        return None
    return {
        "total": math.fsum(share(p, field) for p in used),
        "records": len(pieces),
        "records_used": len(used),
    }


def exercise(observations: Sequence[Observation], day: date) -> Json | None:
    """Sessions overlapping the day; minutes = union of their time inside the day."""
    pieces = [p for o in observations if (p := day_piece(o, day)) is not None]
    if not pieces:
        return None
    by_type: dict[str, float] = defaultdict(float)
    for piece in pieces:
        kind = str(piece.obs.fields.get("exerciseType") or "UNKNOWN")
        by_type[kind] += (piece.end_ms - piece.start_ms) / MINUTE_MS
    return {
        "sessions": len(pieces),
        "minutes": union_ms((p.start_ms, p.end_ms) for p in pieces) / MINUTE_MS,
        "types_min": dict(sorted(by_type.items())),
    }


def activity_day(observations: Sequence[Observation], day: date) -> Json | None:
    """Activity metrics of the local ``day``; None without any activity data that day."""
    metrics: Json = {}
    contributing: list[Observation] = []
    for record_type, (key, field, unit) in CUMULATIVE.items():
        found = of_type(observations, record_type)
        total = cumulative_total(found, day, field)
        if total is not None:
            metrics[key] = {"unit": unit, **total}
            contributing += [o for o in found if day_piece(o, day) is not None]
    for record_type, (key, field, unit) in SAMPLED.items():
        found = of_type(observations, record_type)
        points = [p for o in found for p in samples_on(o, day, field)]
        if points:
            metrics[key] = sample_summary(points, unit)
            contributing += [o for o in found if samples_on(o, day, field)]
    sessions = of_type(observations, EXERCISE)
    summary = exercise(sessions, day)
    if summary is not None:
        metrics["exercise"] = summary
        contributing += [o for o in sessions if day_piece(o, day) is not None]
    vo2 = instant_records_on(of_type(observations, VO2_MAX), day, VO2_FIELD)
    if vo2:
        metrics["vo2_max"] = series_summary(instants_on(vo2, day, VO2_FIELD), "mL/kg/min")
        contributing += vo2
    if not metrics:
        return None
    excluded = sum(
        m["records"] - m["records_used"] for m in metrics.values() if "records_used" in m
    )
    coverage: Json = {
        "records": record_counts(contributing),
        "overlapping_records_excluded": excluded,
    }
    return domain(True, None, coverage, **metrics)
