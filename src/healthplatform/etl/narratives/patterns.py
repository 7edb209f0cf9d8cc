"""Pattern detection from one day's metrics and the previous days' (history).

Each pattern is a ``Finding`` with a code (used by the semantic layer), its domain and the
structural sentence. Thresholds are constants below and are listed in docs/metrics.md.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from healthplatform.etl.metrics.heart import hrv_trend
from healthplatform.etl.narratives.fmt import clock, duration, num, pct, plural
from healthplatform.etl.narratives.statistical import BP_LABELS

Json = dict[str, Any]
History = Sequence[tuple[date, dict[str, Json]]]

BASELINE_DAYS = 14  # most recent previous days used for baselines
BASELINE_MIN_DAYS = 3
NOTABLE_RISE_MG_DL = 50.0
CV_HIGH_PCT = 36.0
TBR70_TARGET, TBR54_TARGET, TAR180_TARGET, TAR250_TARGET = 4.0, 1.0, 25.0, 5.0
SHORT_SLEEP_MIN = 7 * 60.0
VERY_SHORT_SLEEP_MIN = 6 * 60.0
LOW_EFFICIENCY_PCT = 85.0
IRREGULAR_MIDPOINT_MIN = 60.0
CV_CHANGE_POINTS = 3.0


@dataclass(frozen=True)
class Finding:
    code: str
    domain: str
    text: str


def recent(day: date, history: History) -> list[dict[str, Json]]:
    """Metrics of the days in the 14 calendar days before ``day``, oldest first.

    A calendar window (not "the 14 latest entries") keeps a journal a function of the
    data in that window alone, whatever order the uploads arrived in."""
    start = day - timedelta(days=BASELINE_DAYS)
    return [m for d, m in sorted(history, key=lambda e: e[0]) if start <= d < day]


def _glucose(g: Json) -> list[Finding]:
    found: list[Finding] = []
    night = g.get("overnight")
    if night and night["low_detected"]:
        first = night["low_episodes"][0]
        text = (
            f"Overnight low: glucose below 70 mg/dL for {duration(first['minutes'])} from "
            f"{first['start']} (nadir {num(night['nadir_mg_dl'])} mg/dL at "
            f"{night['nadir_time']})."
        )
        found.append(Finding("glucose.overnight_low", "glucose", text))
    elif night and night["below_70"]:
        text = (
            f"{plural(night['below_70'], 'overnight reading')} below 70 mg/dL (nadir "
            f"{num(night['nadir_mg_dl'])} mg/dL at {night['nadir_time']}), shorter than a "
            "15-minute episode."
        )
        found.append(Finding("glucose.overnight_low_reading", "glucose", text))
    if g["very_low_episodes"]:
        eps = g["very_low_episodes"]
        lowest = num(min(e["extreme"] for e in eps))
        text = (
            f"{plural(len(eps), 'episode')} below 54 mg/dL lasting at least 15 min "
            f"(lowest {lowest} mg/dL)."
        )
        found.append(Finding("glucose.very_low", "glucose", text))
    if g["status"] == "ok":
        found += _glucose_ranges(g)
    found += _glucose_peaks(g)
    trend = g.get("trend")
    if trend and trend["direction"] != "stable":
        text = (
            f"Glucose was {trend['direction']} through the day (about "
            f"{num(trend['change_mg_dl'])} mg/dL over {num(trend['span_h'])} h)."
        )
        found.append(Finding("glucose.trend", "glucose", text))
    return found


def _glucose_ranges(g: Json) -> list[Finding]:
    found: list[Finding] = []
    tbr70, tbr54, tar180, tar250 = (
        g["tbr_70_pct"],
        g["tbr_54_pct"],
        g["tar_180_pct"],
        g["tar_250_pct"],
    )
    if tbr70 > TBR70_TARGET or tbr54 > TBR54_TARGET:
        text = (
            f"Time below range ({pct(tbr70)} below 70, {pct(tbr54)} below 54 mg/dL) is above "
            "the consensus targets (under 4 % and under 1 %)."
        )
        found.append(Finding("glucose.below_range", "glucose", text))
    if tar180 > TAR180_TARGET or tar250 > TAR250_TARGET:
        text = (
            f"Time above range ({pct(tar180)} above 180, {pct(tar250)} above 250 mg/dL) is "
            "above the consensus targets (under 25 % and under 5 %)."
        )
        found.append(Finding("glucose.above_range", "glucose", text))
    if g["cv_pct"] > CV_HIGH_PCT:
        text = f"Glucose variability was high (CV {pct(g['cv_pct'])}, above 36 %)."
        found.append(Finding("glucose.high_variability", "glucose", text))
    return found


def _glucose_peaks(g: Json) -> list[Finding]:
    meals = g.get("post_meal")
    peaks = [p for p in (meals or {}).get("peaks", []) if p["rise_mg_dl"] >= NOTABLE_RISE_MG_DL]
    if peaks:
        text = "; ".join(
            f"after {p['meal'].lower()} at {p['time']}, peak {num(p['peak_mg_dl'])} mg/dL at "
            f"{p['peak_time']} (+{num(p['rise_mg_dl'])})"
            for p in peaks
        )
        return [Finding("glucose.post_meal_peak", "glucose", f"Post-meal peaks: {text}.")]
    rise = g.get("largest_rise_2h")
    if not meals and rise and rise["rise_mg_dl"] >= NOTABLE_RISE_MG_DL:
        text = (
            f"Largest rise within 2 h: +{num(rise['rise_mg_dl'])} mg/dL, from "
            f"{num(rise['from_mg_dl'])} mg/dL at {rise['from_time']} to "
            f"{num(rise['to_mg_dl'])} mg/dL at {rise['to_time']}."
        )
        return [Finding("glucose.rise", "glucose", text)]
    return []


def _heart(h: Json, past: Sequence[dict[str, Json]]) -> list[Finding]:
    found: list[Finding] = []
    eps = h["elevated_episodes"]
    if eps:
        spans = ", ".join(f"{e['start']}-{e['end']} (peak {num(e['extreme'])} bpm)" for e in eps)
        text = (
            f"{plural(len(eps), 'episode')} of heart rate at or above 100 bpm for at least "
            f"10 min outside recorded exercise: {spans}."
        )
        found.append(Finding("heart.elevated", "heart", text))
    today = h.get("hrv")
    if today:
        previous = [m["heart"]["hrv"]["mean_ms"] for m in past if (m.get("heart") or {}).get("hrv")]
        trend = hrv_trend(today["mean_ms"], previous)
        if trend["status"] == "ok" and trend["direction"] != "within":
            baseline = f"{num(trend['baseline_mean_ms'])} ± {num(trend['baseline_sd_ms'])} ms"
            days = plural(trend["baseline_days"], "previous day")
            text = (
                f"HRV (RMSSD) mean {num(today['mean_ms'])} ms was {trend['direction']} your "
                f"baseline ({baseline} over {days})."
            )
            found.append(Finding(f"heart.hrv_{trend['direction']}", "heart", text))
    return found


def _sleep(s: Json, past: Sequence[dict[str, Json]]) -> list[Finding]:
    found: list[Finding] = []
    main = s["main"]
    tst, eff = main["tst_min"], main["efficiency_pct"]
    if s["status"] == "ok" and tst < SHORT_SLEEP_MIN:
        text = f"Short sleep: {duration(tst)} of total sleep, under the 7 h recommended for adults."
        found.append(Finding("sleep.short", "sleep", text))
    if s["status"] == "ok" and eff is not None and eff < LOW_EFFICIENCY_PCT:
        awake = duration(main["waso_min"])
        text = f"Sleep efficiency {pct(eff)} is under 85 % ({awake} awake after sleep onset)."
        found.append(Finding("sleep.low_efficiency", "sleep", text))
    midpoints = [m["sleep"]["main"]["midpoint_rel_min"] for m in past if m.get("sleep")]
    if len(midpoints) >= BASELINE_MIN_DAYS:
        usual = statistics.fmean(midpoints)
        shift = main["midpoint_rel_min"] - usual
        if abs(shift) >= IRREGULAR_MIDPOINT_MIN:
            text = (
                f"Sleep timing differed from previous nights: midpoint {main['midpoint']}, "
                f"{duration(abs(shift))} {'later' if shift > 0 else 'earlier'} than the "
                f"average of {plural(len(midpoints), 'previous night')} ({clock(usual)})."
            )
            found.append(Finding("sleep.irregular_timing", "sleep", text))
    return found


def _short_sleep_glucose(
    metrics: dict[str, Json], past: Sequence[dict[str, Json]]
) -> list[Finding]:
    """Cross-domain: after a night under 6 h, the day's glucose CV vs the user's baseline."""
    s, g = metrics.get("sleep"), metrics.get("glucose")
    if not s or not g or s["status"] != "ok" or g["status"] != "ok":
        return []
    tst = s["main"]["tst_min"]
    if tst >= VERY_SHORT_SLEEP_MIN:
        return []
    night = f"After a short night ({duration(tst)} of sleep)"
    baseline = [
        m["glucose"]["cv_pct"] for m in past if (m.get("glucose") or {}).get("cv_pct") is not None
    ]
    if len(baseline) < BASELINE_MIN_DAYS:
        text = (
            f"{night}, there is not enough glucose history "
            f"({plural(len(baseline), 'day')}, {BASELINE_MIN_DAYS} needed) to compare "
            "variability with your baseline."
        )
        return [Finding("cross.short_sleep_glucose_unknown", "glucose", text)]
    usual = statistics.fmean(baseline)
    diff = g["cv_pct"] - usual
    if diff >= CV_CHANGE_POINTS:
        code, word = "cross.short_sleep_glucose_higher", "higher than"
    elif diff <= -CV_CHANGE_POINTS:
        code, word = "cross.short_sleep_glucose_lower", "lower than"
    else:
        code, word = "cross.short_sleep_glucose_similar", "similar to"
    text = (
        f"{night}, glucose variability was {word} your baseline (CV {pct(g['cv_pct'])} vs "
        f"{pct(usual)} on average over {plural(len(baseline), 'previous day')})."
    )
    return [Finding(code, "glucose", text)]


def _vitals(v: Json) -> list[Finding]:
    found: list[Finding] = []
    bp = v.get("blood_pressure")
    if bp and bp["highest_category"] in ("stage_1", "stage_2", "crisis"):
        mean = f"{num(bp['mean_systolic_mmhg'])}/{num(bp['mean_diastolic_mmhg'])}"
        high = f"{num(bp['max_systolic_mmhg'])}/{num(bp['max_diastolic_mmhg'])}"
        text = (
            f"Blood pressure: {plural(bp['readings'], 'reading')}, mean {mean} mmHg, highest "
            f"{high} mmHg, with readings in the {BP_LABELS[bp['highest_category']]} of the "
            "ACC/AHA 2017 categories."
        )
        found.append(Finding(f"vitals.bp_{bp['highest_category']}", "vitals", text))
    spo2 = v.get("spo2")
    if spo2 and spo2["readings_below_90"]:
        text = (
            f"{plural(spo2['readings_below_90'], 'SpO2 reading')} below 90 % (lowest "
            f"{num(spo2['min'])} %)."
        )
        found.append(Finding("vitals.spo2_low", "vitals", text))
    return found


def detect(day: date, metrics: dict[str, Json], history: History) -> list[Finding]:
    """All findings for ``day``, in a fixed order (glucose, heart, sleep, cross, vitals)."""
    past = recent(day, history)
    found: list[Finding] = []
    if "glucose" in metrics:
        found += _glucose(metrics["glucose"])
    if "heart" in metrics:
        found += _heart(metrics["heart"], past)
    if "sleep" in metrics:
        found += _sleep(metrics["sleep"], past)
    found += _short_sleep_glucose(metrics, past)
    if "vitals" in metrics:
        found += _vitals(metrics["vitals"])
    return found
