"""The real Health Connect exports: decode, normalise, dedupe, compute, narrate."""

from __future__ import annotations

import json
from datetime import date
from functools import cache

import fastavro
import pytest

from healthplatform.etl.metrics import compute_day
from healthplatform.etl.narratives import daily_journal, upload_narrative
from healthplatform.etl.observations import Observation, from_record
from tests.conftest import SAMPLES

DAYS = (date(2025, 9, 19), date(2025, 9, 20), date(2025, 9, 21))
FILES = sorted(SAMPLES.glob("*.avro"))
pytestmark = pytest.mark.skipif(not FILES, reason=f"no sample files in {SAMPLES}")


@cache
def observations() -> tuple[Observation, ...]:
    by_id: dict[str, Observation] = {}
    for path in FILES:
        record_type = path.name.split("_")[0]
        with path.open("rb") as handle:
            for record in fastavro.reader(handle):
                assert isinstance(record, dict)
                o = from_record(record_type, record)
                by_id[o.hc_id] = o  # files overlap: dedupe by Health Connect id
    return tuple(by_id.values())


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


def test_known_values() -> None:
    partial, full, last = (metrics(d) for d in DAYS)
    # Dexcom writes "Z": 19 readings on the UTC evening of 09-19 -> 19 / 288 = 7 %
    assert partial["glucose"]["status"] == "insufficient data"
    assert partial["glucose"]["coverage"]["readings"] == 19
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
    for day in DAYS:
        first = daily_journal(day, metrics(day), history)
        again = daily_journal(day, compute_day(list(reversed(observations())), day), history)
        assert first == again and first.text == again.text
        texts.append(first.text)
        history.append((day, metrics(day)))
    assert "Glucose: insufficient data" in texts[0]
    assert "Heart: insufficient data" in texts[0]
    assert "Short sleep" in texts[2]
    assert "not enough glucose history" in texts[2]
    for text in texts:
        assert "not a diagnosis" in text
    upload = upload_narrative("StepsRecord", history)
    assert "2025-09-20: 3,933 steps." in upload.statistical
    assert upload == upload_narrative("StepsRecord", list(reversed(history)))
