"""Structural layer: patterns of one day, and of the day against the previous 14 days.

Each pattern is written as a sentence (every number a claim) and returns its code, which
the semantic layer interprets. Thresholds are constants below, listed in docs/metrics.md.
Values computed from earlier days are ``history.*`` claims.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from healthplatform.etl.narratives import render as r
from healthplatform.etl.narratives.listings import BP_LABELS
from healthplatform.etl.narratives.writer import Writer

Json = dict[str, Any]
History = Sequence[tuple[date, dict[str, Json]]]

BASELINE_DAYS = 14  # previous calendar days used for baselines
BASELINE_MIN_DAYS = 3
NOTABLE_RISE_MG_DL = 50.0
CV_HIGH_PCT = 36.0
TBR70_TARGET, TBR54_TARGET, TAR180_TARGET, TAR250_TARGET = 4.0, 1.0, 25.0, 5.0
SHORT_SLEEP_MIN = 7 * 60.0
VERY_SHORT_SLEEP_MIN = 6 * 60.0
LOW_EFFICIENCY_PCT = 85.0
IRREGULAR_MIDPOINT_MIN = 60.0
CV_CHANGE_POINTS = 3.0
MAX_LISTED = 3  # repeated patterns: the first three, then how many more


def recent(day: date, history: History) -> list[dict[str, Json]]:
    """Metrics of the days in the 14 calendar days before ``day``, oldest first.

    A calendar window (not "the 14 latest entries") keeps a journal a function of the
    data in that window alone, whatever order the uploads arrived in."""
    start = day - timedelta(days=BASELINE_DAYS)
    return [m for d, m in sorted(history, key=lambda e: e[0]) if start <= d < day]


def _listed(total: int) -> str:
    return " (the first three listed)" if total > MAX_LISTED else ""


def _event(w: Writer, path: str, e: Json) -> str:
    return (
        f"{w.m(f'{path}.start', 'HH:MM', r.hhmm)}-"
        f"{w.m(f'{path}.end', 'HH:MM', r.hhmm)} "
        f"({w.m(f'{path}.minutes', 'min', r.minutes)}, lowest "
        f"{w.m(f'{path}.extreme', 'mg/dL', r.MG)})"
    )


def _lows(w: Writer, g: Json) -> list[str]:
    codes: list[str] = []
    events = g["low_episodes"]
    for overnight, code, label in ((True, "glucose.overnight_low", "Overnight"),
                                   (False, "glucose.daytime_low", "Daytime")):  # fmt: skip
        picked = [(i, e) for i, e in enumerate(events) if (int(e["start"][:2]) < 6) == overnight]
        if not picked:
            continue
        path = f"glucose.low_episodes.{label.lower()}_count"
        listed = "; ".join(
            _event(w, f"glucose.low_episodes.{i}", e) for i, e in picked[:MAX_LISTED]
        )
        w.say(
            f"{label} low glucose: "
            f"{w.val(path, len(picked), 'count', r.count('event'))}"
            f" below {w.const('glucose.low', 70, 'mg/dL', r.MG)} for at least "
            f"{w.const('glucose.event_minutes', 15, 'min', r.minutes)}: {listed}"
            f"{_listed(len(picked))}."
        )
        codes.append(code)
    very = g["very_low_episodes"]
    below = g.get("readings_below_54")
    if very or below:
        parts = []
        if below:
            parts.append(
                f"{w.m('glucose.readings_below_54.count', 'count', r.count('reading'))}"
                f" below {w.const('glucose.very_low', 54, 'mg/dL', r.MG)} (lowest "
                f"{w.m('glucose.readings_below_54.lowest_mg_dl', 'mg/dL', r.MG)}"
                f" at {w.m('glucose.readings_below_54.lowest_time', 'HH:MM', r.hhmm)})"
            )
        if very:
            parts.append(
                f"{w.val('glucose.very_low_episodes.count', len(very), 'count', r.count('event'))}"
                f" of at least {w.const('glucose.event_minutes', 15, 'min', r.minutes)}"
            )
        w.say(f"Very low glucose: {', '.join(parts)}.")
        codes.append("glucose.very_low")
    return codes


def _ranges(w: Writer, g: Json) -> list[str]:
    codes: list[str] = []
    c = w.const
    if g["tbr_70_pct"] > TBR70_TARGET or g["tbr_54_pct"] > TBR54_TARGET:
        w.say(
            f"Time below range ({w.m('glucose.tbr_70_pct', '%', r.percent)} below "
            f"{c('glucose.low', 70, 'mg/dL', r.bare())}, "
            f"{w.m('glucose.tbr_54_pct', '%', r.percent)} below "
            f"{c('glucose.very_low', 54, 'mg/dL', r.MG)}) is above the consensus targets (under "
            f"{c('glucose.tbr70_target', TBR70_TARGET, '%', r.percent)} and under "
            f"{c('glucose.tbr54_target', TBR54_TARGET, '%', r.percent)})."
        )
        codes.append("glucose.below_range")
    if g["tar_180_pct"] > TAR180_TARGET or g["tar_250_pct"] > TAR250_TARGET:
        w.say(
            f"Time above range ({w.m('glucose.tar_180_pct', '%', r.percent)} above "
            f"{c('glucose.high', 180, 'mg/dL', r.bare())}, "
            f"{w.m('glucose.tar_250_pct', '%', r.percent)} above "
            f"{c('glucose.very_high', 250, 'mg/dL', r.MG)}) is above the consensus targets (under "
            f"{c('glucose.tar180_target', TAR180_TARGET, '%', r.percent)} and under "
            f"{c('glucose.tar250_target', TAR250_TARGET, '%', r.percent)})."
        )
        codes.append("glucose.above_range")
    if g["cv_pct"] > CV_HIGH_PCT:
        w.say(
            f"Glucose variability was high (CV {w.m('glucose.cv_pct', '%', r.percent)}, "
            f"above {c('glucose.cv_high', CV_HIGH_PCT, '%', r.percent)})."
        )
        codes.append("glucose.high_variability")
    return codes


def _peaks(w: Writer, g: Json) -> list[str]:
    meals = g.get("post_meal")
    peaks = [
        (i, p)
        for i, p in enumerate((meals or {}).get("peaks", []))
        if p["rise_mg_dl"] >= NOTABLE_RISE_MG_DL
    ]
    if peaks:
        listed = "; ".join(
            f"after {p['meal'].lower()} at "
            f"{w.m(f'glucose.post_meal.peaks.{i}.time', 'HH:MM', r.hhmm)}, peak "
            f"{w.m(f'glucose.post_meal.peaks.{i}.peak_mg_dl', 'mg/dL', r.MG)}"
            f" at {w.m(f'glucose.post_meal.peaks.{i}.peak_time', 'HH:MM', r.hhmm)}"
            f" ({w.m(f'glucose.post_meal.peaks.{i}.rise_mg_dl', 'mg/dL', r.signed('mg/dL'))})"
            for i, p in peaks[:MAX_LISTED]
        )
        w.say(f"Post-meal peaks: {listed}{_listed(len(peaks))}.")
        return ["glucose.post_meal_peak"]
    rise = g.get("largest_rise_2h")
    if meals or not rise or rise["rise_mg_dl"] < NOTABLE_RISE_MG_DL:
        return []
    p = "glucose.largest_rise_2h"
    label = "Rise after a low" if rise["after_low"] else "Largest rise"
    w.say(
        f"{label} within {w.const('glucose.rise_window', 120, 'min', r.minutes)}: "
        f"{w.m(f'{p}.rise_mg_dl', 'mg/dL', r.signed('mg/dL'))}, from "
        f"{w.m(f'{p}.from_mg_dl', 'mg/dL', r.MG)} at "
        f"{w.m(f'{p}.from_time', 'HH:MM', r.hhmm)} to "
        f"{w.m(f'{p}.to_mg_dl', 'mg/dL', r.MG)} at "
        f"{w.m(f'{p}.to_time', 'HH:MM', r.hhmm)}."
    )
    return ["glucose.rebound" if rise["after_low"] else "glucose.rise"]


def _glucose(w: Writer, g: Json) -> list[str]:
    codes = _lows(w, g)
    if g["status"] == "ok":
        codes += _ranges(w, g)
    codes += _peaks(w, g)
    trend = g.get("trend")
    if trend and trend["direction"] != "stable":
        w.say(
            f"Glucose was {trend['direction']} through the day (about "
            f"{w.m('glucose.trend.change_mg_dl', 'mg/dL', r.MG)} over "
            f"{w.m('glucose.trend.span_h', 'h', r.units('h'))})."
        )
        codes.append("glucose.trend")
    return codes


def _baseline(values: Sequence[float]) -> tuple[float, float] | None:
    if len(values) < BASELINE_MIN_DAYS:
        return None
    return statistics.fmean(values), statistics.stdev(values)


def _heart(
    w: Writer, h: Json, past: Sequence[dict[str, Json]], window: tuple[str, str]
) -> list[str]:
    codes: list[str] = []
    eps = h["elevated_episodes"]
    if eps:
        spans = ", ".join(
            f"{w.m(f'heart.elevated_episodes.{i}.start', 'HH:MM', r.hhmm)}-"
            f"{w.m(f'heart.elevated_episodes.{i}.end', 'HH:MM', r.hhmm)} (peak "
            f"{w.m(f'heart.elevated_episodes.{i}.extreme', 'bpm', r.BPM)})"
            for i, e in enumerate(eps[:MAX_LISTED])
        )
        w.say(
            f"{w.val('heart.elevated_episodes.count', len(eps), 'count', r.count('episode'))} of "
            f"heart rate above {w.const('heart.tachycardia', 100, 'bpm', r.BPM)} for at least "
            f"{w.const('heart.elevated_minutes', 10, 'min', r.minutes)} outside recorded "
            f"exercise: {spans}{_listed(len(eps))}."
        )
        codes.append("heart.elevated")
    today = h.get("hrv")
    previous = [m["heart"]["hrv"]["mean_ms"] for m in past if (m.get("heart") or {}).get("hrv")]
    base = _baseline(previous) if today else None
    if today and base:
        mean, sd = base
        direction = (
            "below"
            if today["mean_ms"] < mean - sd
            else "above"
            if today["mean_ms"] > mean + sd
            else ""
        )
        if direction:
            n = len(previous)
            days = w.past("heart.hrv.baseline_days", n, "count", r.count("previous day"), window, n)
            w.say(
                f"HRV (RMSSD) mean {w.m('heart.hrv.mean_ms', 'ms', r.MS)} was "
                f"{direction} your baseline "
                f"({w.past('heart.hrv.baseline_mean_ms', mean, 'ms', r.bare(), window, n)}"
                f" ± {w.past('heart.hrv.baseline_sd_ms', sd, 'ms', r.MS, window, n)} over {days})."
            )
            codes.append(f"heart.hrv_{direction}")
    return codes


def _sleep(
    w: Writer, s: Json, past: Sequence[dict[str, Json]], window: tuple[str, str]
) -> list[str]:
    codes: list[str] = []
    main = s["main"]
    tst, eff = main["tst_min"], main["efficiency_pct"]
    if s["status"] == "ok" and tst < SHORT_SLEEP_MIN:
        w.say(
            f"Short night: {w.m('sleep.main.tst_min', 'min', r.minutes)} of main sleep, "
            f"under the {w.const('sleep.recommended', SHORT_SLEEP_MIN, 'min', r.minutes)} "
            "recommended for adults."
        )
        codes.append("sleep.short")
    if s["status"] == "ok" and eff is not None and eff < LOW_EFFICIENCY_PCT:
        w.say(
            f"Sleep efficiency {w.m('sleep.main.efficiency_pct', '%', r.percent)} is under "
            f"{w.const('sleep.efficiency_reference', LOW_EFFICIENCY_PCT, '%', r.percent)} ("
            + (
                "no sleep stage recorded"
                if main["waso_min"] is None
                else f"{w.m('sleep.main.waso_min', 'min', r.minutes)} awake after sleep onset"
            )
            + ")."
        )
        codes.append("sleep.low_efficiency")
    midpoints = [m["sleep"]["main"]["midpoint_rel_min"] for m in past if m.get("sleep")]
    if len(midpoints) >= BASELINE_MIN_DAYS:
        usual = statistics.fmean(midpoints)
        shift = main["midpoint_rel_min"] - usual
        if abs(shift) >= IRREGULAR_MIDPOINT_MIN:
            n = len(midpoints)
            w.say(
                f"Sleep timing differed from previous nights: midpoint "
                f"{w.m('sleep.main.midpoint', 'HH:MM', r.hhmm)}, "
                f"{w.past('sleep.midpoint_shift_min', abs(shift), 'min', r.minutes, window, n)}"
                f" {'later' if shift > 0 else 'earlier'} than the average of "
                f"{w.past('sleep.nights', n, 'count', r.count('previous night'), window, n)}"
                f" ({w.past('sleep.midpoint_mean_min', usual, 'min', r.clock_of, window, n)})."
            )
            codes.append("sleep.irregular_timing")
    return codes


def _short_sleep_glucose(
    w: Writer, metrics: dict[str, Json], past: Sequence[dict[str, Json]], window: tuple[str, str]
) -> list[str]:
    """Cross-domain: after a night under 6 h, the day's glucose CV vs the user's baseline."""
    s, g = metrics.get("sleep"), metrics.get("glucose")
    if not s or not g or s["status"] != "ok" or g["status"] != "ok":
        return []
    tst = s["main"]["tst_min"]
    if tst >= VERY_SHORT_SLEEP_MIN:
        return []
    night = f"After a short night ({w.m('sleep.main.tst_min', 'min', r.minutes)} of sleep)"
    baseline = [
        m["glucose"]["cv_pct"] for m in past if (m.get("glucose") or {}).get("cv_pct") is not None
    ]
    n = len(baseline)
    if n < BASELINE_MIN_DAYS:
        w.say(
            f"{night}, there is not enough glucose history "
            f"({w.past('glucose.cv_days', n, 'count', r.count('day'), window, n)}, "
            f"{w.const('history.min_days', BASELINE_MIN_DAYS, 'count', r.bare())} needed) to "
            "compare variability with your baseline."
        )
        return ["cross.short_sleep_glucose_unknown"]
    usual = statistics.fmean(baseline)
    diff = g["cv_pct"] - usual
    if diff >= CV_CHANGE_POINTS:
        code, word = "cross.short_sleep_glucose_higher", "higher than"
    elif diff <= -CV_CHANGE_POINTS:
        code, word = "cross.short_sleep_glucose_lower", "lower than"
    else:
        code, word = "cross.short_sleep_glucose_similar", "similar to"
    w.say(
        f"{night}, glucose variability was {word} your baseline (CV "
        f"{w.m('glucose.cv_pct', '%', r.percent)} vs "
        f"{w.past('glucose.cv_mean_pct', usual, '%', r.percent, window, n)} on average over "
        f"{w.past('glucose.cv_days', n, 'count', r.count('previous day'), window, n)})."
    )
    return [code]


def _vitals(w: Writer, v: Json) -> list[str]:
    codes: list[str] = []
    bp = v.get("blood_pressure")
    if bp and bp["highest_category"] in ("stage_1", "stage_2", "crisis"):
        w.say(
            f"Blood pressure: "
            f"{w.m('vitals.blood_pressure.readings', 'count', r.count('reading'))}"
            f" with at least one in the {BP_LABELS[bp['highest_category']]} of the ACC/AHA 2017 "
            "categories."
        )
        codes.append(f"vitals.bp_{bp['highest_category']}")
    spo2 = v.get("spo2")
    if spo2 and spo2["readings_below_90"]:
        w.say(
            f"{w.m('vitals.spo2.readings_below_90', 'count', r.count('SpO2 reading'))}"
            f" below {w.const('vitals.spo2_low', 90, '%', r.units('%'))} (lowest "
            f"{w.m('vitals.spo2.min', '%', r.units('%'))})."
        )
        codes.append("vitals.spo2_low")
    return codes


def detect(
    w: Writer, day: date, metrics: dict[str, Json], history: History
) -> list[tuple[str, str]]:
    """Write every pattern of ``day`` (structural layer) in a fixed order and return
    (code, domain) of each."""
    past = recent(day, history)
    window = ((day - timedelta(days=BASELINE_DAYS)).isoformat(), day.isoformat())
    found: list[tuple[str, str]] = []
    if "glucose" in metrics:
        w.at("structural", "glucose")
        found += [(code, "glucose") for code in _glucose(w, metrics["glucose"])]
    if "heart" in metrics:
        w.at("structural", "heart")
        found += [(code, "heart") for code in _heart(w, metrics["heart"], past, window)]
    if "sleep" in metrics:
        w.at("structural", "sleep")
        found += [(code, "sleep") for code in _sleep(w, metrics["sleep"], past, window)]
    w.at("structural", "glucose")
    found += [(code, "glucose") for code in _short_sleep_glucose(w, metrics, past, window)]
    if "vitals" in metrics:
        w.at("structural", "vitals")
        found += [(code, "vitals") for code in _vitals(w, metrics["vitals"])]
    return found
