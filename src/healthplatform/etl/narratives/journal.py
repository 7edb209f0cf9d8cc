"""The two narrative entry points: a daily journal and the summary of one uploaded file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from healthplatform.etl.metrics.daily import SUMMARY_KEYS
from healthplatform.etl.narratives.fmt import duration, num, plural
from healthplatform.etl.narratives.model import Narrative
from healthplatform.etl.narratives.patterns import Finding, History, detect
from healthplatform.etl.narratives.semantic import CLOSING, MEANINGS, semantic
from healthplatform.etl.narratives.statistical import statistical, type_phrase

Json = dict[str, Any]
NO_PATTERNS = "No notable patterns."


def structural(findings: Sequence[Finding]) -> str:
    return "\n".join(f.text for f in findings) if findings else NO_PATTERNS


def daily_journal(day: date, metrics: dict[str, Json], history: History) -> Narrative:
    """Narrative for one day from its ``compute_day`` output and earlier days' outputs.

    Only history entries before ``day`` are used (the 14 most recent as baselines).
    """
    findings = detect(day, metrics, history)
    return Narrative(
        statistical=statistical(day.isoformat(), metrics),
        structural=structural(findings),
        semantic=semantic(metrics, findings),
    )


# (domain, key) -> (path inside the domain result, label, formatter) of a headline value
def _n(digits: int, unit: str) -> Callable[[float], str]:
    return lambda v: f"{num(v, digits)} {unit}".rstrip()


HEADLINES: dict[tuple[str, str], tuple[tuple[str, ...], str, Callable[[float], str]]] = {
    ("glucose", "readings_summary"): (("mean_mg_dl",), "mean glucose", _n(0, "mg/dL")),
    ("heart", "heart_rate"): (("heart_rate", "mean_bpm"), "mean heart rate", _n(0, "bpm")),
    ("heart", "resting"): (("resting", "bpm"), "resting heart rate", _n(0, "bpm")),
    ("heart", "hrv"): (("hrv", "mean_ms"), "mean HRV (RMSSD)", _n(0, "ms")),
    ("sleep", "main"): (("main", "tst_min"), "total sleep", duration),
    ("activity", "exercise"): (("exercise", "minutes"), "exercise time", duration),
    ("vitals", "blood_pressure"): (
        ("blood_pressure", "mean_systolic_mmhg"),
        "mean systolic pressure",
        _n(0, "mmHg"),
    ),
    ("intake", "hydration"): (("hydration", "volume_ml"), "water", _n(0, "mL")),
    ("intake", "nutrition"): (("nutrition", "energy_kcal"), "energy intake", _n(0, "kcal")),
}


def _headline(domain: str, key: str) -> tuple[tuple[str, ...], str, Callable[[float], str]]:
    if (domain, key) in HEADLINES:
        return HEADLINES[(domain, key)]
    label = key.replace("_", " ")
    if domain == "activity" and key in ("cycling_cadence", "power", "speed", "steps_cadence"):
        return (key, "mean"), f"mean {label}", _n(1, "")
    if domain == "activity" and key != "vo2_max":
        return (key, "total"), label, _n(0, "")
    return (key, "latest"), label, _n(1, "")


def _value(d: Json | None, path: Sequence[str]) -> float | None:
    node: Any = d
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def _phrase(domain: str, key: str, metrics: dict[str, Json]) -> str | None:
    d = metrics.get(domain)
    return type_phrase(domain, key, d) if d else None


def upload_narrative(record_type: str, days: Sequence[tuple[date, dict[str, Json]]]) -> Narrative:
    """What one uploaded file of ``record_type`` contributed to the days it touched.

    ``days`` are the ``compute_day`` outputs of those days. Raises ``ValueError`` for an
    unknown record type.
    """
    if record_type not in SUMMARY_KEYS:
        raise ValueError(f"unknown record type {record_type!r}")
    domain, key = SUMMARY_KEYS[record_type]
    ordered = sorted(days, key=lambda item: item[0])
    phrases = [(day, m, _phrase(domain, key, m)) for day, m in ordered]
    present = [(day, m) for day, m, phrase in phrases if phrase]
    lines = [
        f"{record_type} upload: data on {len(present)} of "
        f"{plural(len(ordered), 'local day')} touched."
    ]
    for day, _, phrase in phrases:
        text = phrase or f"no {record_type} summary for this day"
        lines.append(f"{day.isoformat()}: {text.rstrip('.')}.")
    path, label, render = _headline(domain, key)
    values = [(day, v) for day, m in present if (v := _value(m.get(domain), path)) is not None]
    patterns: list[str] = []
    if len(values) >= 2:
        high = max(values, key=lambda item: (item[1], item[0]))
        low = min(values, key=lambda item: (item[1], item[0]))
        patterns.append(
            f"Across {plural(len(values), 'day')}: highest {label} on {high[0].isoformat()} "
            f"({render(high[1])}), lowest on {low[0].isoformat()} ({render(low[1])})."
        )
    insufficient = [(day, m[domain]["reason"]) for day, m in present if m[domain]["status"] != "ok"]
    patterns += [f"Insufficient data on {d.isoformat()}: {reason}." for d, reason in insufficient]
    # single-day findings only: cross-day patterns need the user's history (daily_journal)
    findings = [
        (day, f)
        for day, m in present
        for f in detect(day, m, ())
        if f.domain == domain and not f.code.startswith("cross.")
    ]
    patterns += [f"{day.isoformat()}: {f.text}" for day, f in findings]
    meaning = [
        f"This file contributed {record_type} data to {plural(len(present), 'day')}; "
        f"{len(present) - len(insufficient)} of them had enough data for daily {domain} "
        "metrics."
    ]
    if insufficient:
        meaning.append("Daily metrics of days with insufficient data are not interpreted.")
    for code in dict.fromkeys(f.code for _, f in findings):
        meaning.append(MEANINGS[code])
    meaning.append(CLOSING)
    return Narrative(
        statistical="\n".join(lines),
        structural="\n".join(patterns) or NO_PATTERNS,
        semantic="\n".join(meaning),
    )
