"""Property tests: range partition, order/duplicate independence, day splitting, offsets."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from healthplatform.etl.metrics import compute_day, range_percentages
from healthplatform.healthconnect.observations import Observation, from_record, local_time
from healthplatform.healthconnect.synth import synthetic_records
from tests.unit.etl.helpers import DAY, at, cgm, obs, sleep

FAST = settings(max_examples=60, deadline=None)
MIXED_TYPES = (
    "BloodGlucoseRecord", "HeartRateRecord", "SleepSessionRecord", "StepsRecord",
    "DistanceRecord", "ExerciseSessionRecord", "WeightRecord", "BloodPressureRecord",
    "HydrationRecord", "NutritionRecord", "OxygenSaturationRecord",
)  # fmt: skip
OFFSETS = st.integers(-48, 56).map(lambda q: q * 15)  # -12:00 .. +14:00 in 15 min steps


@FAST
@given(st.lists(st.floats(10, 600, allow_nan=False), min_size=1, max_size=300))
def test_ranges_partition_the_readings(values: list[float]) -> None:
    p = range_percentages(values)
    assert math.isclose(p["tbr_70_pct"] + p["tir_70_180_pct"] + p["tar_180_pct"], 100.0)
    assert p["tbr_54_pct"] <= p["tbr_70_pct"] and p["tar_250_pct"] <= p["tar_180_pct"]
    assert all(0.0 <= v <= 100.0 for v in p.values())


def _synthetic_mix(seed: int, step_ms: int) -> list[Observation]:
    return [
        from_record(t, r)
        for i, t in enumerate(MIXED_TYPES)
        for r in synthetic_records(
            t, 12, seed=seed + i, step_ms=step_ms, start_ms=1_758_400_000_000 - 6 * 3_600_000
        )
    ]


def _days(observations: list[Observation]) -> set[date]:
    return {o.local_date for o in observations} | {o.local_end.date() for o in observations}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([60_000, 300_000, 1_800_000]), st.randoms())
def test_order_and_duplicates_do_not_matter(seed: int, step_ms: int, rnd: random.Random) -> None:
    base = _synthetic_mix(seed, step_ms)
    shuffled = base + rnd.sample(base, k=len(base) // 3)  # some observations passed twice
    rnd.shuffle(shuffled)
    deduped = list({o.hc_id: o for o in shuffled}.values())
    for day in sorted(_days(base)):
        expected = compute_day(base, day)
        assert compute_day(deduped, day) == expected
        assert compute_day(shuffled, day) == expected


@FAST
@given(
    start=st.integers(0, 10 * 86_400_000),
    duration=st.integers(1, 3 * 86_400_000),
    offset=OFFSETS,
    count=st.integers(0, 100_000),
)
def test_day_split_conserves_the_total(start: int, duration: int, offset: int, count: int) -> None:
    t0 = 1_741_000_000_000 + start
    record = obs("StepsRecord", t0, t0 + duration, offset=offset, count=count)
    first = local_time(t0, offset).date()
    last = local_time(t0 + duration, offset).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    totals = [compute_day([record], d).get("activity", {}).get("steps", {}).get("total", 0.0)
              for d in days]  # fmt: skip
    assert math.isclose(math.fsum(totals), count, rel_tol=1e-9, abs_tol=1e-6)
    assert compute_day([record], first - timedelta(days=1)) == {}


@FAST
@given(t=st.integers(1_700_000_000_000, 1_800_000_000_000), a=OFFSETS, b=OFFSETS)
def test_each_instant_uses_its_own_offset(t: int, a: int, b: int) -> None:
    records = [obs("WeightRecord", t, offset=a, weightInKilograms=70.0),
               obs("WeightRecord", t, offset=b, weightInKilograms=80.0)]  # fmt: skip
    for record, weight in zip(records, (70.0, 80.0), strict=True):
        day = local_time(t, record.offset_minutes).date()
        body = compute_day(records, day)["body"]["weight"]
        assert weight in (body["min"], body["max"])


def test_same_instant_two_offsets_two_days() -> None:
    # 23:30 at -05:00 and 00:30 at -04:00 are the same instant (04:30 UTC)
    evening = at(DAY, 23, 30, offset=-300)
    assert evening == at(DAY + timedelta(days=1), 0, 30, offset=-240)
    a = obs("BloodGlucoseRecord", evening, offset=-300, levelInMilligramsPerDeciliter=90.0)
    b = obs("BloodGlucoseRecord", evening, offset=-240, levelInMilligramsPerDeciliter=95.0)
    assert compute_day([a, b], DAY)["glucose"]["readings_summary"]["mean_mg_dl"] == 90.0
    nxt = compute_day([a, b], DAY + timedelta(days=1))["glucose"]["readings_summary"]
    assert nxt["mean_mg_dl"] == 95.0


def test_spring_forward_day_expects_fewer_readings() -> None:
    # 2025-03-09 (US clocks go forward at 02:00): 00:00-01:55 at -05:00 (24 readings), then
    # 03:00-23:55 at -04:00 (252 readings): 276 readings in a 23 h day = 1380 / 5 = 276
    day = date(2025, 3, 9)
    before = cgm(day, [100.0] * 24, offset=-300)
    after = cgm(day, [100.0] * 252, offset=-240, start_hh=3)
    g = compute_day(before + after, day)["glucose"]
    assert g["coverage"]["day_minutes"] == 1380
    assert g["coverage"]["expected_readings"] == 276
    assert g["coverage"]["sufficiency_pct"] == 100.0


STAGES = st.sampled_from(["AWAKE", "LIGHT", "DEEP", "REM", "SLEEPING", "OUT_OF_BED", "UNKNOWN"])


@FAST
@given(st.lists(st.tuples(st.integers(1, 90), STAGES), min_size=1, max_size=40))
def test_sleep_invariants(stages: list[tuple[int, str]]) -> None:
    session = sleep(at(DAY, -2), stages)
    s = compute_day([session], session.local_end.date())["sleep"]
    m = s["main"]
    tib = sum(minutes for minutes, _ in stages)
    assert m["time_in_bed_min"] == tib
    assert math.isclose(sum(m["stages_min"].values()), tib)
    if m["tst_min"] is None:
        assert s["status"] == "insufficient data"
        return
    assert 0 <= m["tst_min"] <= m["time_in_bed_min"]
    assert 0 <= m["efficiency_pct"] <= 100
    if m["tst_min"] == 0:  # no sleep onset: nothing happened "after" it
        assert m["waso_min"] is None and m["awakenings"] is None
        return
    assert m["awakenings"] <= sum(1 for _, st_ in stages if st_ in ("AWAKE", "OUT_OF_BED"))
    assert m["waso_min"] <= tib - m["tst_min"] + 1e-9
