"""Narratives: layers, determinism, patterns (incl. the sleep -> glucose link), caution."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from healthplatform.etl.metrics import compute_day
from healthplatform.etl.narratives import (
    Narrative,
    UnclaimedNumber,
    daily_journal,
    upload_narrative,
)
from healthplatform.etl.narratives.writer import Writer
from healthplatform.healthconnect.observations import Observation
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
    text = daily_journal(DAY, metrics, [], {"offset_minutes": -300}).statistical
    # mean 110, SD 10.0174 -> "10", CV 9.11 % -> "9 %"; no GMI for a single day
    assert text.startswith("Daily summary for 2025-03-10 (times in UTC-05:00).")
    assert "mean 110 mg/dL (SD 10, CV 9 %)" in text and "GMI" not in text
    assert "time in range 70-180 mg/dL 100 %" in text
    assert "main sleep 8 h (no stage data: taken as time in bed)" in text


def test_every_number_is_a_claim() -> None:
    metrics = compute_day(_day(DAY, (80.0, 160.0), 5.0), DAY)
    n = daily_journal(
        DAY, metrics, _history(start=DAY - timedelta(days=3)), {"offset_minutes": -300}
    )
    by_id = {c.id: c for c in n.claims}
    for sentence in n.sentences:
        rest = sentence.text
        for cid in sentence.claims:
            rest = rest.replace(by_id[cid].text, "", 1)
        for name in ("ACC/AHA 2017", "SpO2"):
            rest = rest.replace(name, "")
        assert not any(ch.isdigit() for ch in rest), sentence.text
    mean = next(c for c in n.claims if c.metric == "glucose.mean_mg_dl")
    assert (mean.value, mean.unit, mean.text) == (120.0, "mg/dL", "120 mg/dL")
    assert mean.window == ("2025-03-10T00:00-05:00", "2025-03-11T00:00-05:00")
    assert mean.records == 288 and mean.version == "2026.12.1" and mean.layer == "statistical"
    with pytest.raises(UnclaimedNumber):
        Writer(("", ""), {}, "v").say("12 readings")  # a number no claim accounts for


def test_insufficient_data_is_said_and_not_interpreted() -> None:
    metrics = compute_day(cgm(DAY, [50.0] * 30), DAY)  # 30 / 288 readings, all low
    n = daily_journal(DAY, metrics, [])
    assert "insufficient data for CGM metrics (10 % of expected readings" in n.statistical
    assert "Glucose: insufficient data" in n.semantic and "not interpreted" in n.semantic
    # the low event and the readings below 54 are still facts about the readings
    assert "below 54 mg/dL" in n.structural and "Overnight low glucose: 1 event" in n.structural


def test_elevated_heart_rate_and_blood_pressure_are_cautious() -> None:
    day = [hr_record(at(DAY, h), [72.0] * 60) for h in range(6, 20)]
    day.append(hr_record(at(DAY, 21), [118.0] * 15))
    day += [obs("BloodPressureRecord", at(DAY, 9), systolic=185.0, diastolic=95.0)]
    n = daily_journal(DAY, compute_day(day, DAY), [])
    assert "1 episode of heart rate above 100 bpm for at least 10 min" in n.structural
    assert "21:00-21:14 (peak 118 bpm)" in n.structural
    assert "hypertensive crisis range" in n.structural
    assert "seek urgent medical care" in n.semantic
    lowered = n.text.lower()
    for word in ("you have", "diagnosed", "hypertension is", "tachycardia"):
        assert word not in lowered
    assert "it is not a diagnosis" in n.semantic


def test_highest_blood_pressure_is_a_real_reading() -> None:
    day = [
        obs("BloodPressureRecord", at(DAY, 8), systolic=181.0, diastolic=96.0),
        obs("BloodPressureRecord", at(DAY, 20), systolic=150.0, diastolic=120.0),
    ]
    n = daily_journal(DAY, compute_day(day, DAY), [])
    assert "highest systolic reading 181/96 mmHg at 08:00" in n.statistical
    assert "highest diastolic reading 150/120 mmHg at 20:00" in n.statistical
    assert "181/120" not in n.text


def test_determinism_and_model() -> None:
    day = DAY + timedelta(days=3)
    observations = _day(day, (80.0, 160.0), 5.0)
    one = daily_journal(day, compute_day(observations, day), _history())
    two = daily_journal(day, compute_day(list(reversed(observations)), day), _history())
    assert one == two and one.text == two.text
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.sentences = ()  # type: ignore[misc]
    assert one.text == "\n\n".join((one.statistical, one.structural, one.semantic))
    preview = one.preview(80)
    assert len(preview) <= 80 and preview.endswith("...") and "\n" not in preview
    again = Narrative.from_json(one.sentences_json(), one.claims_json())
    assert again == one


def test_domain_text_is_that_domains_only() -> None:
    day = DAY + timedelta(days=3)
    n = daily_journal(day, compute_day(_day(day, (80.0, 160.0), 5.0), day), _history())
    glucose = n.for_domain("glucose")
    assert glucose.text and "Sleep" not in glucose.text and "sleep onset" not in glucose.text
    assert all(c.domain == "glucose" for c in glucose.claims)
    assert "Glucose (CGM)" not in n.for_domain("sleep").text


def test_no_template_artefacts() -> None:
    day = DAY + timedelta(days=3)
    text = daily_journal(day, compute_day(_day(day, (80.0, 160.0), 5.0), day), _history()).text
    for artefact in ("1 of them", "  ", " .", "..", "( ", " )"):
        assert artefact not in text, artefact


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
        "Uploaded steps data, by local day:",
        "2025-03-10: 4,200 steps.",
        "2025-03-11: no steps data.",
        "2025-03-12: 6,100 steps.",
    ]
    steps = [c for c in n.claims if c.metric == "activity.steps.total"]
    assert [c.window[0][:10] for c in steps] == ["2025-03-10", "2025-03-12"]
    assert n == upload_narrative("StepsRecord", list(reversed(days)))
    with pytest.raises(ValueError, match="unknown record type"):
        upload_narrative("NotARecord", days)


def test_upload_narrative_glucose_insufficient() -> None:
    metrics = compute_day(cgm(DAY, [100.0] * 30), DAY)
    n = upload_narrative("BloodGlucoseRecord", [(DAY, metrics)])
    assert "Insufficient data for daily glucose metrics on 2025-03-10." in n.structural


def test_staged_sleep_statistics() -> None:
    night = sleep(at(DAY, -1), [(20, "AWAKE"), (400, "LIGHT"), (10, "AWAKE"), (50, "REM")])
    text = daily_journal(DAY, compute_day([night], DAY), []).statistical
    # TIB 480, TST 450, efficiency 93.75 % -> "94 %", light 400/450 = 89 %, REM 11 %
    assert (
        "Sleep: in bed 23:00-07:00 (8 h), main sleep 7 h 30 min, efficiency 94 %; "
        "light 6 h 40 min (89 %), REM 50 min (11 %); 1 awakening of 5 min or more, wake "
        "after sleep onset 10 min, sleep onset latency 20 min; midpoint 03:00."
    ) in text
