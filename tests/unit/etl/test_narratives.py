"""Narratives: layers, determinism, patterns (incl. the sleep -> glucose link), caution."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from healthplatform.etl.metrics import compute_day
from healthplatform.etl.narratives import Narrative, daily_journal, upload_narrative
from healthplatform.etl.observations import Observation
from tests.unit.etl.helpers import DAY, at, cgm, hr_record, obs, sleep

Metrics = dict[str, dict]  # type: ignore[type-arg]


def _day(day: date, glucose: tuple[float, float], sleep_hours: float,
         midpoint_shift_h: float = 0.0) -> list[Observation]:  # fmt: skip
    """288 CGM readings alternating two values and a night without stages ending on ``day``.

    Alternating a/b (n = 288): mean (a + b) / 2, sample SD |a - b| / 2 * sqrt(288 / 287).
    """
    a, b = glucose
    values = [a if i % 2 == 0 else b for i in range(288)]
    wake = at(day, 7) + int(midpoint_shift_h * 3_600_000)
    start = wake - int(sleep_hours * 3_600_000)
    night = obs("SleepSessionRecord", start, wake, stages=[])
    return [*cgm(day, values), night]


def _history(days: int = 3, start: date = DAY) -> list[tuple[date, Metrics]]:
    out = []
    for i in range(days):
        d = start + timedelta(days=i)
        out.append((d, compute_day(_day(d, (100.0, 120.0), 8.0), d)))
    return out


def test_short_sleep_then_higher_glucose_variability() -> None:
    history = _history()
    day = DAY + timedelta(days=3)
    metrics = compute_day(_day(day, (80.0, 160.0), 5.0), day)
    text = daily_journal(day, metrics, history)
    # baseline CV: SD 10 * sqrt(288/287) = 10.0174, / mean 110 = 9.11 % -> "9 %"
    # today: SD 40 * sqrt(288/287) = 40.0696, / mean 120 = 33.39 % -> "33 %"
    assert (
        "After a short night (5 h of sleep), glucose variability was higher than your "
        "baseline (CV 33 % vs 9 % on average over 3 previous days)."
    ) in text.structural
    assert "linked with higher glucose variability" in text.semantic
    assert "consider discussing it with a clinician" in text.semantic


def test_short_sleep_similar_variability_and_no_history() -> None:
    history = _history()
    day = DAY + timedelta(days=3)
    same = compute_day(_day(day, (100.0, 120.0), 5.0), day)
    assert (
        "glucose variability was similar to your baseline"
        in daily_journal(day, same, history).structural
    )
    short_history = daily_journal(day, same, history[:2]).structural
    assert "not enough glucose history (2 days, 3 needed)" in short_history
    # enough sleep: no cross-domain sentence at all
    rested = compute_day(_day(day, (80.0, 160.0), 7.5), day)
    assert "After a short night" not in daily_journal(day, rested, history).text


def test_history_after_the_day_is_ignored() -> None:
    history = _history(start=DAY + timedelta(days=10))
    day = DAY + timedelta(days=3)
    metrics = compute_day(_day(day, (80.0, 160.0), 5.0), day)
    assert "not enough glucose history (0 days" in daily_journal(day, metrics, history).text


def test_irregular_sleep_timing() -> None:
    history = _history()  # nights 23:00-07:00: midpoint 03:00
    day = DAY + timedelta(days=3)
    late = compute_day(_day(day, (100.0, 120.0), 8.0, midpoint_shift_h=2), day)
    text = daily_journal(day, late, history).structural
    # midpoint 05:00 vs average 03:00 -> 2 h later
    assert "midpoint 05:00, 2 h later than the average of 3 previous nights (03:00)" in text


def test_statistical_layer_numbers() -> None:
    metrics = compute_day(_day(DAY, (100.0, 120.0), 8.0), DAY)
    text = daily_journal(DAY, metrics, []).statistical
    # mean 110, SD 10.0174 -> "10", CV 9.11 % -> "9 %", GMI 3.31 + 0.02392 * 110 = 5.94 -> 5.9
    assert text.startswith("Daily summary for 2025-03-10.")
    assert "Glucose (CGM): mean 110 mg/dL (SD 10, CV 9 %), GMI 5.9 %" in text
    assert "time in range 70-180 mg/dL 100 %" in text
    assert "total sleep 8 h (no stage data: taken as time in bed)" in text


def test_insufficient_data_is_said_and_not_interpreted() -> None:
    metrics = compute_day(cgm(DAY, [50.0] * 30), DAY)  # 30 / 288 readings, all low
    n = daily_journal(DAY, metrics, [])
    assert "Glucose: insufficient data (10 % of expected readings" in n.statistical
    assert "Glucose: insufficient data" in n.semantic and "not interpreted" in n.semantic
    # the low episode is still a fact about the readings
    assert "below 54 mg/dL" in n.structural


def test_elevated_heart_rate_and_blood_pressure_are_cautious() -> None:
    day = [hr_record(at(DAY, h), [72.0] * 60) for h in range(6, 20)]
    day.append(hr_record(at(DAY, 21), [118.0] * 15))
    day += [obs("BloodPressureRecord", at(DAY, 9), systolic=185.0, diastolic=95.0)]
    n = daily_journal(DAY, compute_day(day, DAY), [])
    assert "1 episode of heart rate at or above 100 bpm for at least 10 min" in n.structural
    assert "21:00-21:14 (peak 118 bpm)" in n.structural
    assert "hypertensive crisis range" in n.structural
    assert "seek urgent medical care" in n.semantic
    lowered = n.text.lower()
    for word in ("you have", "diagnosed", "hypertension is", "tachycardia"):
        assert word not in lowered
    assert "it is not a diagnosis" in n.semantic


def test_determinism_and_model() -> None:
    day = DAY + timedelta(days=3)
    observations = _day(day, (80.0, 160.0), 5.0)
    one = daily_journal(day, compute_day(observations, day), _history())
    two = daily_journal(day, compute_day(list(reversed(observations)), day), _history())
    assert one == two and one.text == two.text
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.statistical = "x"  # type: ignore[misc]
    assert one.text == "\n\n".join((one.statistical, one.structural, one.semantic))
    preview = one.preview(80)
    assert len(preview) <= 80 and preview.endswith("...") and "\n" not in preview
    assert Narrative("a", "", "c").text == "a\n\nc"
    assert Narrative("short", "", "").preview() == "short"


def test_empty_day() -> None:
    n = daily_journal(DAY, {}, [])
    assert "No data for this day." in n.statistical
    assert n.structural == "No notable patterns."


def test_upload_narrative() -> None:
    days = [
        (DAY, compute_day([obs("StepsRecord", at(DAY, 8), at(DAY, 9), count=4200)], DAY)),
        (DAY + timedelta(days=1), {}),
        (DAY + timedelta(days=2), compute_day(
            [obs("StepsRecord", at(DAY + timedelta(days=2), 8),
                 at(DAY + timedelta(days=2), 9), count=6100)], DAY + timedelta(days=2))),
    ]  # fmt: skip
    n = upload_narrative("StepsRecord", days)
    assert n.statistical.splitlines() == [
        "StepsRecord upload: data on 2 of 3 local days touched.",
        "2025-03-10: 4,200 steps.",
        "2025-03-11: no StepsRecord summary for this day.",
        "2025-03-12: 6,100 steps.",
    ]
    assert "highest steps on 2025-03-12 (6,100), lowest on 2025-03-10 (4,200)" in n.structural
    assert n == upload_narrative("StepsRecord", list(reversed(days)))
    with pytest.raises(ValueError, match="unknown record type"):
        upload_narrative("NotARecord", days)


def test_upload_narrative_glucose_insufficient() -> None:
    metrics = compute_day(cgm(DAY, [100.0] * 30), DAY)
    n = upload_narrative("BloodGlucoseRecord", [(DAY, metrics)])
    assert "Insufficient data on 2025-03-10" in n.structural
    assert "0 of them had enough data" in n.semantic


def test_staged_sleep_statistics() -> None:
    night = sleep(at(DAY, -1), [(20, "AWAKE"), (400, "LIGHT"), (10, "AWAKE"), (50, "REM")])
    text = daily_journal(DAY, compute_day([night], DAY), []).statistical
    # TIB 480, TST 450, efficiency 93.75 % -> "94 %", light 400/450 = 89 %, REM 11 %
    assert (
        "Sleep: in bed 23:00-07:00 (8 h), total sleep 7 h 30 min, efficiency 94 %; "
        "light 6 h 40 min (89 %), REM 50 min (11 %); 1 awakening, wake after sleep onset "
        "10 min, sleep onset latency 20 min; midpoint 03:00."
    ) in text
