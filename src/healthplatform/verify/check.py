"""Checking claims: each claimed value against the verifier's own recomputation, and each
claim's text against its value (the rounding a person reads)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from healthplatform.healthconnect.observations import Observation
from healthplatform.verify import glucose_heart, other_domains
from healthplatform.verify.base import (
    CONSTANTS,
    DAY,
    MIN,
    clock,
    day_number,
    end_offset,
    local_day,
    mean,
    sample_sd,
    unique,
)
from healthplatform.verify.claims import Claim

DOMAIN_TYPES = {
    "glucose": {"BloodGlucoseRecord"},
    "heart": {"HeartRateRecord", "RestingHeartRateRecord", "HeartRateVariabilityRmssdRecord"},
    "sleep": {"SleepSessionRecord"},
    "activity": {*other_domains.CUMULATIVE, *other_domains.SAMPLED, "ExerciseSessionRecord",
                 "Vo2MaxRecord"},
    "body": set(other_domains.BODY),
    "vitals": {"BloodPressureRecord", "OxygenSaturationRecord", "RespiratoryRateRecord",
               "BodyTemperatureRecord", "BasalBodyTemperatureRecord"},
    "intake": {"HydrationRecord", "NutritionRecord"},
}  # fmt: skip
_MISSING = object()


@dataclass(frozen=True)
class Failure:
    claim: str
    metric: str
    claimed: Any
    reason: str


@dataclass
class Report:
    total: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def verified(self) -> int:
        return self.total - len(self.failures)

    @property
    def ok(self) -> bool:
        return not self.failures

    def add(self, other: Report) -> None:
        self.total += other.total
        self.failures += other.failures


def _touches(o: Observation, day: int) -> bool:
    return local_day(o.start_ms, o.offset_minutes) <= day <= local_day(o.end_ms, end_offset(o))


def facts(
    observations: Iterable[Observation],
    day: date,
    *,
    height_m: float | None = None,
    history: Sequence[tuple[date, Mapping[str, Any]]] = (),
) -> dict[str, Any]:
    """Every value the verifier can recompute for ``day`` (flat metric paths)."""
    d = day_number(day)
    obs = unique(observations)
    mine: dict[str, list[Observation]] = {name: [] for name in DOMAIN_TYPES}
    for o in obs:  # each domain reads its own record types only
        for name, types in DOMAIN_TYPES.items():
            if o.record_type in types:
                mine[name].append(o)
    exercise = [o for o in obs if o.record_type == "ExerciseSessionRecord"]
    out: dict[str, Any] = {"context.date": day.isoformat()}
    out |= glucose_heart.glucose(mine["glucose"], d)
    out |= glucose_heart.heart(mine["heart"] + exercise, d)
    out |= other_domains.sleep(mine["sleep"], d) | other_domains.activity(mine["activity"], d)
    out |= other_domains.body(mine["body"], d, height_m) | other_domains.vitals(mine["vitals"], d)
    out |= other_domains.intake(mine["intake"], d)
    touching = [o for o in obs if _touches(o, d)]
    offsets = Counter(o.offset_minutes for o in touching)
    if offsets:
        majority = sorted(offsets.items(), key=lambda kv: (-kv[1], kv[0]))
        out["context.offset_minutes"] = majority[0][0]
    moments = [
        (t, o.offset_minutes)
        for o in touching
        for t in (o.start_ms, *_sample_times(o))
        if local_day(t, o.offset_minutes) == d
    ]
    if moments:
        latest = max(t for t, _ in moments)
        out["context.data_until"] = clock(latest, min(off for t, off in moments if t == latest))
    for domain, types in DOMAIN_TYPES.items():
        placed = Counter(o.zone_source for o in touching if o.record_type in types)
        for source, n in placed.items():
            out[f"{domain}.coverage.placement.{source}"] = n
    if "sleep.main.midpoint" in out:
        main = _main_midpoint_minutes(obs, d, out)
        if main is not None:
            out["sleep.main.midpoint_rel_min"] = main
    out |= _history(day, history, out)
    return out


def _sample_times(o: Observation) -> list[int]:
    return [
        s["timeEpochMillis"]
        for s in o.fields.get("samples") or []
        if isinstance(s, dict) and type(s.get("timeEpochMillis")) is int
    ]


def _main_midpoint_minutes(obs: list[Observation], d: int, f: dict[str, Any]) -> float | None:
    for o in obs:
        if (
            o.record_type == "SleepSessionRecord"
            and o.end_ms > o.start_ms
            and local_day(o.end_ms, end_offset(o)) == d
            and (o.end_ms - o.start_ms) / MIN == f["sleep.main.time_in_bed_min"]
            and clock(o.start_ms, o.offset_minutes) == f["sleep.main.bedtime"]
        ):
            mid = (o.start_ms + o.end_ms) // 2
            return (mid + end_offset(o) * MIN - d * DAY) / MIN
    return None


def _history(
    day: date, history: Sequence[tuple[date, Mapping[str, Any]]], today: dict[str, Any]
) -> dict[str, Any]:
    """Values the journal takes from the previous 14 calendar days' stored metrics."""
    past = [
        m for d, m in sorted(history, key=lambda e: e[0]) if day - timedelta(days=14) <= d < day
    ]
    out: dict[str, Any] = {}
    hrv = [m["heart"]["hrv"]["mean_ms"] for m in past if (m.get("heart") or {}).get("hrv")]
    if len(hrv) >= 3:
        out |= {"history.heart.hrv.baseline_mean_ms": mean(hrv),
                "history.heart.hrv.baseline_sd_ms": sample_sd(hrv),
                "history.heart.hrv.baseline_days": len(hrv)}  # fmt: skip
    mids = [m["sleep"]["main"]["midpoint_rel_min"] for m in past if m.get("sleep")]
    out["history.sleep.nights"] = len(mids)
    if len(mids) >= 3:
        out["history.sleep.midpoint_mean_min"] = mean(mids)
        if "sleep.main.midpoint_rel_min" in today:
            out["history.sleep.midpoint_shift_min"] = abs(
                today["sleep.main.midpoint_rel_min"] - mean(mids)
            )
    cvs = [
        m["glucose"]["cv_pct"] for m in past if (m.get("glucose") or {}).get("cv_pct") is not None
    ]
    out["history.glucose.cv_days"] = len(cvs)
    if cvs:
        out["history.glucose.cv_mean_pct"] = mean(cvs)
    return out


_NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.(\d+))?")
_DURATION = re.compile(r"^(-?)(?:(\d+) h)?(?: ?(\d+) min)?$")


def shown(claim: Claim) -> tuple[Any, float]:
    """What the claim's text says, as a value, and the rounding tolerance of that text."""
    text = claim.text
    if claim.unit in ("HH:MM", "date"):
        return text, 0.0
    if claim.unit == "offset":
        if text == "UTC":
            return 0, 0.0
        sign = -1 if text[3] == "-" else 1
        return sign * (int(text[4:6]) * 60 + int(text[7:9])), 0.0
    if claim.unit == "min" and re.fullmatch(r"\d\d:\d\d", text):
        return int(text[:2]) * 60 + int(text[3:]), 0.5
    if claim.unit in ("min", "days") and (m := _DURATION.match(text)) and (m[2] or m[3]):
        minutes = int(m[2] or 0) * 60 + int(m[3] or 0)
        return (-minutes if m[1] else minutes), 0.5
    found = _NUMBER.search(text)
    if not found:
        return text, 0.0
    number = float(found[0].replace(",", ""))
    tolerance = 0.5 * 10 ** -len(found[1] or "") + 1e-9
    if text.endswith(" km"):
        return number * 1000, tolerance * 1000
    return number, tolerance


def _close(a: Any, b: Any, tolerance: float = 0.0) -> bool:
    if isinstance(a, str) or isinstance(b, str) or isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=max(tolerance, 1e-9))


def problem(claim: Claim, known: Mapping[str, Any]) -> str | None:
    """Why ``claim`` fails against ``known``, or None when it holds."""
    if claim.metric.startswith("def."):
        expected = CONSTANTS.get(claim.metric[4:], _MISSING)
    else:
        expected = known.get(claim.metric, _MISSING)
    if expected is _MISSING:
        return "the verifier has no value for this metric"
    if not _close(claim.value, expected):
        return f"value differs from the recomputation ({expected!r})"
    text_value, tolerance = shown(claim)
    if claim.unit == "min" and isinstance(text_value, int) and ":" in claim.text:
        return None if text_value == round(float(claim.value)) % 1440 else "text differs"
    if not _close(text_value, claim.value, tolerance):
        return "text does not show the value"
    return None


def check(claims: Iterable[Claim], known: Mapping[str, Any]) -> Report:
    """Each claim against ``known`` (``facts``), its text against its value."""
    report = Report()
    for claim in claims:
        report.total += 1
        reason = problem(claim, known)
        if reason is not None:
            report.failures.append(Failure(claim.id, claim.metric, claim.value, reason))
    return report
