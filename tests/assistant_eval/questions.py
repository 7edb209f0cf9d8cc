"""The question set: objective questions over the two people, each with a gold answer from
``gold`` (raw records) and a plan that answers it with the MCP tools alone (no language
model). ``python -m tests.assistant_eval.questions`` prints the set as JSON (questions and
gold answers) for measuring an AI assistant later."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tests.assistant_eval.gold import Person
from tests.assistant_eval.people import sample_records, synthetic_week, week_days

Answer = Any
Extract = Callable[[dict[str, Any]], Answer]


@dataclass(frozen=True)
class Question:
    id: str
    person: str  # "sample" (the real phone) or "synthetic" (the week of synth.py records)
    text: str
    gold: Answer
    tool: str
    arguments: dict[str, Any]
    extract: Extract = field(repr=False)


def _path(*keys: str) -> Extract:
    def get(answer: dict[str, Any]) -> Answer:
        node: Any = answer
        for key in keys:
            node = node[key]
        return node

    return get


def _below_54(answer: dict[str, Any]) -> Answer:
    found = answer["metrics"]["glucose"]["readings_below_54"]
    return 0 if found is None else found["count"]


def _tir(answer: dict[str, Any]) -> Answer:
    g = answer["metrics"]["glucose"]
    return g["status"] if g["tir_70_180_pct"] is None else g["tir_70_180_pct"]


def _minutes_below_70(answer: dict[str, Any]) -> Answer:
    g = answer["metrics"]["glucose"]
    if g["tbr_70_pct"] is None:  # an insufficient day: only the readings summary is given
        return 0.0 if g["readings_summary"]["min_mg_dl"] >= 70 else None
    return g["tbr_70_pct"] / 100 * g["readings_summary"]["count"] * g["coverage"][
        "median_interval_min"]  # fmt: skip


DAILY: list[tuple[str, str, Callable[[Person, date], Answer], Extract]] = [
    ("mean-glucose", "What was the mean glucose (mg/dL) on {d}?", Person.mean_glucose,
     _path("metrics", "glucose", "readings_summary", "mean_mg_dl")),
    ("tir", "What percentage of glucose readings were in 70-180 mg/dL on {d}?",
     Person.pct_in_range, _tir),
    ("minutes-below-70", "How many minutes were below 70 mg/dL on {d}?",
     Person.minutes_below_70, _minutes_below_70),
    ("readings-below-54", "How many glucose readings were below 54 mg/dL on {d}?",
     Person.readings_below_54, _below_54),
    ("steps", "How many steps were taken on {d}?", Person.steps,
     _path("metrics", "activity", "steps", "total")),
    ("max-hr", "What was the highest heart rate (bpm) on {d}?", Person.max_heart_rate,
     _path("metrics", "heart", "heart_rate", "max_bpm")),
    ("tst", "How many minutes did the main sleep ending on {d} last (total sleep time)?",
     Person.total_sleep_min, _path("metrics", "sleep", "main", "tst_min")),
    ("sleep-efficiency", "What was the sleep efficiency (%) of the night ending on {d}?",
     Person.sleep_efficiency, _path("metrics", "sleep", "main", "efficiency_pct")),
    ("weight", "What was the latest body weight (kg) on {d}?", Person.latest_weight,
     _path("metrics", "body", "weight", "latest")),
]  # fmt: skip

EXTRA_DAILY: list[tuple[str, str, Callable[[Person, date], Answer], Extract]] = [
    ("spo2", "What was the mean SpO2 (%) on {d}?", Person.mean_spo2,
     _path("metrics", "vitals", "spo2", "mean")),
    ("systolic", "What was the mean systolic blood pressure (mmHg) on {d}?",
     Person.mean_systolic, _path("metrics", "vitals", "blood_pressure", "mean_systolic_mmhg")),
    ("resting-hr", "What was the resting heart rate (bpm) on {d}?", Person.resting_heart_rate,
     _path("metrics", "heart", "resting", "bpm")),
]  # fmt: skip


def _day(person: str, p: Person, day: date, spec: tuple[str, str, Any, Extract]) -> Question:
    key, text, gold, extract = spec
    d = day.isoformat()
    return Question(f"{person}-{key}-{d}", person, text.format(d=d), gold(p, day), "get_day",
                    {"day": d}, extract)  # fmt: skip


def _week(p: Person, key: str, text: str, metric: str, agg: str, gold: Answer) -> Question:
    days = week_days()
    args = {"metric": metric, "from_date": days[0].isoformat(), "to_date": days[-1].isoformat(),
            "aggregation": agg}  # fmt: skip
    return Question(f"synthetic-week-{key}", "synthetic", text.format(d=days[0].isoformat()),
                    gold, "query_series", args, _path("value"))  # fmt: skip


def questions(samples: Path) -> list[Question]:
    out: list[Question] = []
    week = Person(synthetic_week())
    days = week_days()
    for day in days:
        out += [_day("synthetic", week, day, spec) for spec in DAILY]
    for day in days[:3]:
        out += [_day("synthetic", week, day, spec) for spec in EXTRA_DAILY]
    out += [
        _week(week, "sleep-efficiency", "Average sleep efficiency (%) over the week of {d}?",
              "sleep.main.efficiency_pct", "mean",
              sum(week.sleep_efficiency(d) for d in days) / len(days)),
        _week(week, "steps", "How many steps in total over the week of {d}?",
              "activity.steps.total", "sum", sum(week.steps(d) for d in days)),
        _week(week, "max-steps", "What was the most steps in one day in the week of {d}?",
              "activity.steps.total", "max", max(week.steps(d) for d in days)),
        _week(week, "mean-glucose", "Mean of the daily mean glucose over the week of {d}?",
              "glucose.readings_summary.mean_mg_dl", "mean",
              sum(week.mean_glucose(d) for d in days) / len(days)),
        _week(week, "below-54", "How many readings below 54 mg/dL over the week of {d}?",
              "glucose.readings_below_54.count", "sum",
              sum(week.readings_below_54(d) for d in days)),
        _week(week, "min-resting", "Lowest resting heart rate (bpm) in the week of {d}?",
              "heart.resting.bpm", "min", min(week.resting_heart_rate(d) for d in days)),
        _week(week, "median-tst", "Median total sleep time (min) in the week of {d}?",
              "sleep.main.tst_min", "median",
              sorted(week.total_sleep_min(d) for d in days)[len(days) // 2]),
    ]  # fmt: skip
    phone = Person(sample_records(samples))
    sept = [date(2025, 9, 19), date(2025, 9, 20), date(2025, 9, 21)]
    for day in sept:
        out.append(_day("sample", phone, day, DAILY[0]))  # mean glucose
        out.append(_day("sample", phone, day, DAILY[5]))  # highest heart rate
    for day in sept[1:]:
        out += [_day("sample", phone, day, DAILY[i]) for i in (1, 2, 4, 6, 7)]
    out += [
        Question("def-cv", "synthetic", "Who first-authored the source of the CV threshold?",
                 "Danne", "explain_metric", {"metric": "glucose.cv_pct"},
                 lambda a: a["citation"].split()[0]),
        Question("def-tir-unit", "synthetic", "In what unit is time in range reported?",
                 "% of readings", "explain_metric", {"metric": "glucose.tir_70_180_pct"},
                 _path("unit")),
    ]  # fmt: skip
    return out


def main() -> None:
    from tests.support.artifacts import samples_dir

    samples, problem = samples_dir()
    if problem:
        raise SystemExit(problem)
    rows = [{"id": q.id, "person": q.person, "question": q.text, "gold": q.gold,
             "tool": q.tool, "arguments": q.arguments} for q in questions(samples)]  # fmt: skip
    json.dump(rows, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
