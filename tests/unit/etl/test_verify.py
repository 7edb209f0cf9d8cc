"""The independent verifier: every claim of every journal holds on edge cases, and a wrong
claim is caught."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from healthplatform.etl.derive import compute_days
from healthplatform.etl.narratives import Narrative, daily_journal
from healthplatform.etl.observation_rows import observation_days
from healthplatform.etl.zones import SetZone, place_all
from healthplatform.healthconnect.observations import Observation, from_record
from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_records
from healthplatform.verify.check import check, facts
from healthplatform.verify.claims import Claim
from tests.unit.etl.helpers import DAY, EST, MIN, at, cgm, hr_record, obs, sleep


def journals(observations: list[Observation], history: list[SetZone] | None = None
             ) -> list[tuple[date, Narrative, dict[str, object]]]:  # fmt: skip
    """Place, compute and narrate every day the observations touch, oldest first, with the
    verifier's values for each day."""
    place_all(observations, history or [])
    days = sorted({d for o in observations for d in observation_days(o)})
    results = compute_days(observations, days, 1.75)
    past: list[tuple[date, dict[str, object]]] = []
    out = []
    for day in days:
        result = results[day]
        if not result.metrics:
            continue
        journal = daily_journal(day, result.metrics, past, result.context)
        out.append((day, journal, facts(result.inputs, day, height_m=1.75, history=past)))
        past.append((day, result.metrics))
    return out


def assert_all_verified(observations: list[Observation], history: list[SetZone] | None = None
                        ) -> int:  # fmt: skip
    total = 0
    for day, journal, known in journals(observations, history):
        report = check(journal.claims, known)
        assert report.failures == [], (day, report.failures, journal.text)
        total += report.total
    assert total
    return total


def test_every_record_type_verifies() -> None:
    observations = [
        from_record(name, record)
        for i, name in enumerate(sorted(record_types()))
        for record in synthetic_records(name, 40, seed=i)
    ]
    assert assert_all_verified(observations) > 100


def test_a_day_around_midnight_and_a_night_across_it() -> None:
    night = sleep(at(DAY, -2), [(30, "AWAKE"), (200, "LIGHT"), (3, "AWAKE"), (6, "AWAKE"),
                                (100, "DEEP"), (20, "AWAKE"), (60, "REM")])  # fmt: skip
    steps = obs("StepsRecord", at(DAY, 23), at(DAY, 25), count=1200)  # split at midnight
    readings = cgm(DAY, [100.0 + (i % 7) * 9 for i in range(288)]) + cgm(
        DAY + timedelta(days=1), [60.0] * 6 + [140.0] * 40
    )
    heart = [hr_record(at(DAY, h), [70.0 + h] * 60) for h in range(0, 24)]
    assert_all_verified([night, steps, *readings, *heart])


def test_daylight_saving_days_with_a_set_zone() -> None:
    # 2025-03-09 has 23 h in New York and 2025-11-02 has 25 h; the CGM stamps "Z"
    history = [SetZone(None, "America/New_York")]
    observations = []
    for day, start in (
        (date(2025, 3, 9), 1_741_496_400_000),
        (date(2025, 11, 2), 1_762_056_000_000),
    ):
        for i in range(300):
            observations.append(
                Observation(
                    "BloodGlucoseRecord",
                    f"g{day}{i}",
                    start + i * 5 * MIN,
                    start + i * 5 * MIN,
                    0,
                    {"levelInMilligramsPerDeciliter": 90.0 + i % 50},
                    origin="dexcom",
                    record_offset=0,
                )
            )
    total = assert_all_verified(observations, history)
    assert total > 20


def test_duplicates_and_z_offsets() -> None:
    base = cgm(DAY, [110.0] * 288)
    twins = []
    high, low = {"levelInMilligramsPerDeciliter": 400.0}, {"levelInMilligramsPerDeciliter": 30.0}
    for o in base[:50]:  # the same record again, older and with the same lastModified
        twins.append(dataclasses.replace(o, last_modified_ms=o.last_modified_ms - 1, fields=high))
        twins.append(dataclasses.replace(o, content_hash=o.content_hash - 1, fields=low))
    pulse = [hr_record(at(DAY, h), [65.0] * 60) for h in range(24)]
    for o in pulse:
        o.origin, o.record_offset = "watch", EST
    stamped = [dataclasses.replace(o, origin="dexcom", record_offset=0) for o in base]
    assert_all_verified([*stamped, *twins, *pulse])


def test_a_night_without_a_sleep_stage() -> None:
    awake = sleep(at(DAY, 0), [(30, "AWAKE"), (20, "OUT_OF_BED"), (10, "AWAKE")])
    assert_all_verified([awake])


def test_a_sparse_day() -> None:
    assert_all_verified(cgm(DAY, [100.0, 180.0, 50.0], step_min=240))


def _claims() -> tuple[list[Claim], dict[str, object]]:
    observations = cgm(DAY, [100.0 + (i % 9) * 10 for i in range(288)])
    _, journal, known = journals(observations)[0]
    return list(journal.claims), known


def test_a_wrong_value_or_text_is_caught() -> None:
    claims, known = _claims()
    assert check(claims, known).ok
    mean = next(i for i, c in enumerate(claims) if c.metric == "glucose.mean_mg_dl")
    wrong_value = dataclasses.replace(claims[mean], value=claims[mean].value + 1)
    wrong_text = dataclasses.replace(claims[mean], text="141 mg/dL")
    unknown = dataclasses.replace(claims[mean], metric="glucose.median_mg_dl")
    wrong_threshold = dataclasses.replace(
        next(c for c in claims if c.metric == "def.glucose.low"), value=72
    )
    for bad in (wrong_value, wrong_text, unknown, wrong_threshold):
        report = check([bad], known)
        assert len(report.failures) == 1 and report.verified == 0, bad


@pytest.mark.parametrize("hours", [0, 2])
def test_history_claims_are_recomputed(hours: int) -> None:
    # four nights, the last one shifted: the irregular-timing sentence states history
    observations = []
    for i in range(4):
        day = DAY + timedelta(days=i)
        shift = hours * 60 if i == 3 else 0
        observations.append(sleep(at(day, -1) + shift * MIN, [(480, "SLEEPING")]))
    assert assert_all_verified(observations)


def test_records_of_two_types_with_the_same_id_both_count() -> None:
    # a record's key is its type and its id (as stored): a heart-rate record and a steps
    # record that share a glucose reading's id are three records, none drops another
    readings = cgm(DAY, [100.0 + (i % 9) * 10 for i in range(288)])
    heart = [hr_record(at(DAY, h), [60.0 + h] * 60) for h in range(24)]
    steps = [obs("StepsRecord", at(DAY, h), at(DAY, h, 30), count=100 * h) for h in range(24)]
    for i, (h, s) in enumerate(zip(heart, steps, strict=True)):
        h.hc_id = s.hc_id = readings[i * 12].hc_id
    results = compute_days([*readings, *heart, *steps], [DAY], 1.75)[DAY].metrics
    assert results["glucose"]["readings_summary"]["count"] == 288  # type: ignore[index]
    assert results["heart"]["heart_rate"]["samples"] == 24 * 60  # type: ignore[index]
    assert results["activity"]["steps"]["total"] == 100 * sum(range(24))  # type: ignore[index]
    assert assert_all_verified([*readings, *heart, *steps]) > 20


def test_the_sample_week_verifies() -> None:
    # "Try sample data" (me.samples): every day of the synthetic week, decoded as the
    # pipeline decodes it, narrates only numbers the verifier recomputes
    import io

    import fastavro

    from healthplatform.me.samples import sample_week

    observations = [
        from_record(name.split("_")[0], record)
        for name, data in sample_week()
        for record in fastavro.reader(io.BytesIO(data))
        if isinstance(record, dict)
    ]
    assert len(observations) == 7 * (288 + 96 + 24 + 1 + 24)
    assert assert_all_verified(observations) > 400
