"""The real Health Connect exports: decode, normalise, dedupe, compute, narrate."""

from __future__ import annotations

import json
from datetime import date
from functools import cache

import fastavro
import pytest

from healthplatform.etl.derive import compute_days
from healthplatform.etl.metrics import compute_day
from healthplatform.etl.narratives import daily_journal, upload_narrative
from healthplatform.etl.zones import place_all
from healthplatform.healthconnect.observations import Observation, from_record
from healthplatform.verify.check import check, facts
from tests.conftest import SAMPLES, SAMPLES_ERROR

DAYS = (date(2025, 9, 19), date(2025, 9, 20), date(2025, 9, 21))
FILES = sorted(SAMPLES.glob("*.avro"))


def test_the_real_samples_are_there() -> None:
    assert len(FILES) == 16, SAMPLES_ERROR or f"{len(FILES)} sample files in {SAMPLES}"


@cache
def observations() -> tuple[Observation, ...]:
    test_the_real_samples_are_there()  # every test here fails with the reason when absent
    by_id: dict[str, Observation] = {}
    for path in FILES:
        record_type = path.name.split("_")[0]
        with path.open("rb") as handle:
            for record in fastavro.reader(handle):
                assert isinstance(record, dict)
                o = from_record(record_type, record)
                by_id[o.hc_id] = o  # files overlap: dedupe by Health Connect id
    placed = tuple(by_id.values())
    place_all(placed)  # the person's clock: Dexcom's "Z" readings move to -05:00
    return placed


@cache
def metrics(day: date) -> dict[str, dict]:  # type: ignore[type-arg]
    return compute_day(list(observations()), day)


def test_dedupe_by_hc_id() -> None:
    obs = observations()
    assert len({o.hc_id for o in obs}) == len(obs)
    # the two 2025-09-20 glucose files share most readings: 505 unique readings in all
    assert sum(1 for o in obs if o.record_type == "BloodGlucoseRecord") == 505


@pytest.mark.parametrize("day", DAYS)
def test_sanity(day: date) -> None:
    out = metrics(day)
    json.dumps(out, allow_nan=False)
    g = out["glucose"]
    if g["status"] == "ok":
        total = g["tbr_70_pct"] + g["tir_70_180_pct"] + g["tar_180_pct"]
        assert total == pytest.approx(100.0)
        assert g["tbr_54_pct"] <= g["tbr_70_pct"] and g["tar_250_pct"] <= g["tar_180_pct"]
        assert g["coverage"]["sufficiency_pct"] >= 70
    if "sleep" in out:
        main = out["sleep"]["main"]
        assert 0 < main["tst_min"] <= main["time_in_bed_min"]
        assert main["efficiency_pct"] <= 100
    if "heart" in out and out["heart"]["heart_rate"]:
        hr = out["heart"]["heart_rate"]
        assert 30 <= hr["min_bpm"] <= hr["mean_bpm"] <= hr["max_bpm"] <= 220


def test_glucose_is_on_the_persons_clock() -> None:
    # the CGM app stamps every reading "Z" while Samsung and Oura write -05:00 in the same
    # hours: the CGM app is found stamping UTC, its readings are placed at -05:00
    obs = observations()
    glucose = [o for o in obs if o.record_type == "BloodGlucoseRecord"]
    assert {(o.zone_source, o.offset_minutes) for o in glucose} == {("inferred", -300)}
    assert {o.zone_source for o in obs if o.record_type != "BloodGlucoseRecord"} == {"record"}
    rise = metrics(DAYS[1])["glucose"]["largest_rise_2h"]
    # lunch, 16:45Z-18:05Z = 11:45-13:05 local (the example)
    assert (rise["from_time"], rise["to_time"], rise["from_mg_dl"], rise["to_mg_dl"]) == (
        "11:45", "13:05", 97.0, 159.0,
    )  # fmt: skip


def test_known_values() -> None:
    partial, full, last = (metrics(d) for d in DAYS)
    # the first file starts 22:25Z on 09-19 = 17:25 local: 79 readings to midnight, 27 %
    assert partial["glucose"]["status"] == "insufficient data"
    assert partial["glucose"]["coverage"]["readings"] == 79
    assert full["glucose"]["status"] == "ok" and full["glucose"]["coverage"]["readings"] == 251
    assert full["glucose"]["coverage"]["median_interval_min"] == pytest.approx(5.0, abs=0.01)
    # Samsung (whole day, 3933) and Oura (from 04:00, 2517) overlap: 3933, not 6450
    assert full["activity"]["steps"]["total"] == 3933
    assert full["activity"]["coverage"]["overlapping_records_excluded"] == 1
    assert last["activity"]["steps"]["total"] == 3615
    # Samsung 01:56-09:19 and Oura 02:39-08:54 overlap: one night, the longer one is kept
    sleep = full["sleep"]
    assert sleep["coverage"]["overlapping_sessions_ignored"] == 1
    assert (sleep["main"]["bedtime"], sleep["main"]["wake_time"]) == ("01:56", "09:19")
    assert sleep["main"]["time_in_bed_min"] == 443
    assert full["heart"]["hrv"]["readings"] == 74
    assert last["sleep"]["main"]["tst_min"] < 360  # a short night before 09-21


def test_narratives_are_deterministic_and_honest() -> None:
    history: list[tuple[date, dict]] = []  # type: ignore[type-arg]
    texts = []
    results = compute_days(list(observations()), DAYS, None)
    backwards = compute_days(list(reversed(observations())), DAYS, None)
    for day in DAYS:
        first = daily_journal(day, results[day].metrics, history, results[day].context)
        again = daily_journal(day, backwards[day].metrics, history, backwards[day].context)
        assert first == again and first.text == again.text
        report = check(first.claims, facts(results[day].inputs, day, history=history))
        assert report.total > 20 and report.failures == []  # every claim verified
        texts.append(first.text)
        history.append((day, results[day].metrics))
    assert "insufficient data for CGM metrics" in texts[0]
    assert "Heart (insufficient data" in texts[0]
    assert "Short night" in texts[2]
    assert "(times in UTC-05:00, as of 14:30)" in texts[2]  # the last file ends 19:30Z
    assert "shown in UTC-05:00: 175 records by your zone inferred" in texts[2]
    for text in texts:
        assert "not a diagnosis" in text
    upload = upload_narrative("StepsRecord", history)
    assert "2025-09-20: 3,933 steps (overlapping records from another app not counted)." in (
        upload.statistical
    )
    assert upload == upload_narrative("StepsRecord", list(reversed(history)))
