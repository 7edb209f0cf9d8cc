"""Statistical layer: the day's numbers with units, one sentence per domain (glucose, heart
and sleep here; the listed domains in :mod:`~healthplatform.etl.narratives.listings`).

Every number is a claim (``Writer.val``/``Writer.const``), so what a sentence says can be
checked against the stored observations (``healthplatform.verify``).
"""

from __future__ import annotations

from typing import Any

from healthplatform.etl.narratives import render as r
from healthplatform.etl.narratives.listings import heart_rate, hrv, listing, resting
from healthplatform.etl.narratives.writer import Writer

Json = dict[str, Any]

LABELS = {
    "Vo2MaxRecord": "VO2 max",
    "HeartRateVariabilityRmssdRecord": "heart rate variability (RMSSD)",
    "OxygenSaturationRecord": "SpO2 (oxygen saturation)",
    "BasalMetabolicRateRecord": "basal metabolic rate",
}
PLACED_BY = {
    "inferred": "your zone inferred from your other records",
    "set": "the time zone you set",
    "utc": "UTC (no zone known)",
}


def record_label(record_type: str) -> str:
    """``'StepsCadenceRecord'`` -> ``'steps cadence'``: how a person names a record type."""
    if record_type in LABELS:
        return LABELS[record_type]
    name = record_type.removesuffix("Record")
    return "".join(f" {ch.lower()}" if ch.isupper() else ch for ch in name).strip()


def glucose_reason(w: Writer, g: Json) -> str:
    """Why the day is insufficient for CGM metrics, from its coverage (as claims)."""
    c = g["coverage"]
    interval = c["median_interval_min"]
    if interval is None:
        return "fewer than two distinct readings: the sampling interval is unknown"
    if interval > 15:
        return (
            f"readings too sparse for CGM metrics: median interval "
            f"{w.val('glucose.coverage.median_interval_min', interval, 'min', r.minutes)}, at "
            f"most {w.const('glucose.cgm_max_interval', 15, 'min', r.minutes)} needed"
        )
    return (
        f"{w.m('glucose.coverage.sufficiency_pct', '%', r.percent)} "
        f"of expected readings ("
        f"{w.m('glucose.coverage.readings', 'count', r.bare())} of "
        f"{w.m('glucose.coverage.expected_readings', 'count', r.bare())}"
        f"), at least {w.const('glucose.min_sufficiency', 70, '%', r.percent)} needed by this "
        "project's per-day rule"
    )


def glucose(w: Writer, g: Json) -> str:
    readings = w.m("glucose.readings_summary.count", "count", r.count("reading"))
    if g["status"] != "ok":
        reason = glucose_reason(w, g)
        low = w.m("glucose.readings_summary.min_mg_dl", "mg/dL", r.bare())
        high = w.m("glucose.readings_summary.max_mg_dl", "mg/dL", r.MG)
        return (
            f"Glucose: {readings} from {low} to {high}; insufficient data for CGM metrics "
            f"({reason})."
        )
    c = w.const
    return (
        f"Glucose (CGM): {readings}, "
        f"{w.m('glucose.coverage.sufficiency_pct', '%', r.percent)}"
        f" of expected; mean {w.m('glucose.mean_mg_dl', 'mg/dL', r.MG)} "
        f"(SD {w.m('glucose.sd_mg_dl', 'mg/dL', r.bare())}, "
        f"CV {w.m('glucose.cv_pct', '%', r.percent)}); time in range "
        f"{c('glucose.low', 70, 'mg/dL', r.bare())}-{c('glucose.high', 180, 'mg/dL', r.MG)} "
        f"{w.m('glucose.tir_70_180_pct', '%', r.percent)}, below "
        f"{c('glucose.low', 70, 'mg/dL', r.bare())} "
        f"{w.m('glucose.tbr_70_pct', '%', r.percent)} (below "
        f"{c('glucose.very_low', 54, 'mg/dL', r.bare())} "
        f"{w.m('glucose.tbr_54_pct', '%', r.percent)}), above "
        f"{c('glucose.high', 180, 'mg/dL', r.bare())} "
        f"{w.m('glucose.tar_180_pct', '%', r.percent)} (above "
        f"{c('glucose.very_high', 250, 'mg/dL', r.bare())} "
        f"{w.m('glucose.tar_250_pct', '%', r.percent)})."
    )


def heart(w: Writer, h: Json) -> str:
    head = "Heart"
    if h["status"] != "ok":
        hours = h["coverage"]["hours_with_samples"]
        head = (
            "Heart (insufficient data for a daily profile: samples in "
            f"{w.val('heart.coverage.hours_with_samples', hours, 'h', r.bare())} of "
            f"{w.const('heart.day_hours', 24, 'h', r.bare())} clock hours, at least "
            f"{w.const('heart.min_hours', 12, 'h', r.bare())} needed)"
        )
    parts = [p for p in (heart_rate(w, h), resting(w, h), hrv(w, h)) if p]
    return f"{head}: {'; '.join(parts)}." if parts else f"{head}."


def _stages(w: Writer, m: Json) -> str:
    out = []
    for key, label in (
        ("light", "light"),
        ("deep", "deep"),
        ("rem", "REM"),
        ("sleeping", "unstaged"),
    ):
        if m["stages_min"][key] > 0:
            minutes = w.m(f"sleep.main.stages_min.{key}", "min", r.minutes)
            share = w.m(f"sleep.main.stages_pct_of_tst.{key}", "%", r.percent)
            out.append(f"{label} {minutes} ({share})")
    return ", ".join(out)


def sleep(w: Writer, s: Json) -> str:
    m = s["main"]
    v = w.val
    text = (
        f"Sleep: in bed {w.m('sleep.main.bedtime', 'HH:MM', r.hhmm)}-"
        f"{w.m('sleep.main.wake_time', 'HH:MM', r.hhmm)} "
        f"({w.m('sleep.main.time_in_bed_min', 'min', r.minutes)})"
    )
    if s["status"] != "ok":
        text += (
            f"; sleep stages cover {w.m('sleep.main.scored_pct', '%', r.percent)}"
            f" of it, at least {w.const('sleep.min_scored', 50, '%', r.percent)} needed for "
            "sleep metrics"
        )
    elif not m["has_stages"]:
        text += (
            f", main sleep {w.m('sleep.main.tst_min', 'min', r.minutes)} "
            "(no stage data: taken as time in bed)"
        )
    else:
        stages = _stages(w, m)
        text += (
            f", main sleep {w.m('sleep.main.tst_min', 'min', r.minutes)}, "
            f"efficiency {w.m('sleep.main.efficiency_pct', '%', r.percent)}"
            + (f"; {stages}" if stages else "")
        )
        if m["waso_min"] is None:
            text += "; no sleep stage recorded, so no sleep onset"
        else:
            text += (
                f"; {w.m('sleep.main.awakenings', 'count', r.count('awakening'))}"
                f" of {w.const('sleep.min_awakening', 5, 'min', r.minutes)} or more, wake "
                f"after sleep onset {w.m('sleep.main.waso_min', 'min', r.minutes)}"
            )
        if m["sleep_onset_latency_min"] is not None:
            latency = v(
                "sleep.main.sleep_onset_latency_min", m["sleep_onset_latency_min"], "min", r.minutes
            )
            text += f", sleep onset latency {latency}"
    text += f"; midpoint {w.m('sleep.main.midpoint', 'HH:MM', r.hhmm)}"
    naps = s["naps"]
    if naps["count"]:
        text += (
            f"; {w.m('sleep.naps.count', 'count', r.count('nap'))} "
            f"({w.m('sleep.naps.sleep_min', 'min', r.minutes)} of sleep)"
        )
        if s["total_sleep_min"] is not None:
            total = v("sleep.total_sleep_min", s["total_sleep_min"], "min", r.minutes)
            text += f", total sleep with naps {total}"
    return text + "."


def domain_sentence(w: Writer, domain: str, d: Json) -> str:
    if domain == "glucose":
        return glucose(w, d)
    if domain == "heart":
        return heart(w, d)
    if domain == "sleep":
        return sleep(w, d)
    return listing(w, domain, d)


def placement_note(w: Writer, domain: str, d: Json, offset: int, label: r.Render) -> str | None:
    """Which records of the domain carried no zone of their own, and where they went."""
    placed = (d.get("coverage") or {}).get("placement") or {}
    moved = [(source, n) for source, n in sorted(placed.items()) if source != "record" and n]
    if not moved:
        return None
    parts = [
        f"{w.val(f'{domain}.coverage.placement.{source}', n, 'count', r.count('record'))} by "
        f"{PLACED_BY[source]}"
        for source, n in moved
    ]
    zone = w.val("context.offset_minutes", offset, "offset", label, records=0)
    return (
        f"{domain.capitalize()} records without a local zone of their own are shown in "
        f"{zone}: {', '.join(parts)}."
    )
