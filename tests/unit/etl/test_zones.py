"""Placing records on the person's clock (docs/metrics.md, "Time zones")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from healthplatform.etl.zones import (
    SetZone,
    Timeline,
    UnknownZone,
    check_zone,
    midnight_ms,
    place_all,
    zone_offset,
)
from healthplatform.healthconnect.observations import Observation

HOUR = 3_600_000


def utc_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def record(
    when: str, offset: int | None, origin: str, kind: str = "HeartRateRecord"
) -> Observation:
    ms = utc_ms(when)
    return Observation(
        record_type=kind,
        hc_id=f"{origin}-{when}-{offset}",
        start_ms=ms,
        end_ms=ms,
        offset_minutes=offset or 0,
        origin=origin,
        record_offset=offset,
    )


def cgm(when: str) -> Observation:
    return record(when, 0, "com.dexcom.stelo", "BloodGlucoseRecord")


def test_a_cgm_app_stamping_utc_is_placed_on_the_persons_zone() -> None:
    # as on the real phone: Dexcom writes "Z" while Samsung writes -05:00 in the same hour
    reading, pulse = cgm("2025-09-20T16:45"), record("2025-09-20T16:50", -300, "com.samsung")
    assert place_all([reading, pulse]) == {"com.dexcom.stelo"}
    assert (reading.offset_minutes, reading.zone_source) == (-300, "inferred")
    assert reading.local_start.strftime("%H:%M") == "11:45"  # lunch, not 16:45
    assert (pulse.offset_minutes, pulse.zone_source) == (-300, "record")


def test_a_person_who_lives_at_utc_keeps_utc() -> None:
    reading, pulse = cgm("2025-01-10T08:00"), record("2025-01-10T08:05", 0, "com.samsung")
    assert place_all([reading, pulse]) == set()
    assert (reading.offset_minutes, reading.zone_source) == (0, "record")
    assert (pulse.offset_minutes, pulse.zone_source) == (0, "record")


def test_london_winter_utc_and_summer_time() -> None:
    # the phone writes "Z" in winter (that is London's offset then) and +01:00 in summer;
    # the CGM writes "Z" all year and is contradicted in summer only
    winter = [cgm("2025-01-10T08:00"), record("2025-01-10T08:10", 0, "com.samsung")]
    summer = [cgm("2025-07-10T08:00"), record("2025-07-10T08:10", 60, "com.samsung")]
    assert place_all([*winter, *summer]) == {"com.dexcom.stelo"}
    assert (winter[0].offset_minutes, winter[0].zone_source) == (0, "inferred")
    assert (summer[0].offset_minutes, summer[0].zone_source) == (60, "inferred")
    assert (winter[1].offset_minutes, winter[1].zone_source) == (0, "record")  # trusted Z


def test_the_zone_in_force_is_the_latest_trusted_hour_before() -> None:
    # travel: New York until the 10th, Paris from the 12th; a reading without an offset on
    # the 11th takes the latest trusted offset before it, one before any takes the first
    before = record("2025-05-01T00:00", None, "app")
    ny = record("2025-05-10T12:00", -240, "com.samsung")
    gap = record("2025-05-11T12:00", None, "app")
    paris = record("2025-05-12T12:00", 120, "com.samsung")
    place_all([before, ny, gap, paris])
    assert (before.offset_minutes, before.zone_source) == (-240, "inferred")
    assert (gap.offset_minutes, gap.zone_source) == (-240, "inferred")
    lone = record("2025-05-11T12:00", None, "app")
    place_all([lone])
    assert (lone.offset_minutes, lone.zone_source) == (0, "utc")  # nothing known: UTC


def test_one_vote_per_app_and_ties_go_to_the_smaller_offset() -> None:
    hour = utc_ms("2025-05-10T12:00") // HOUR
    timeline = Timeline([(hour, "a", -240), (hour, "b", 120), (hour, "c", 120)])
    assert timeline.at(hour * HOUR) == 120
    assert Timeline([(hour, "a", -240), (hour, "b", 120)]).at(hour * HOUR) == -240
    assert Timeline([]).at(0) is None


def test_a_set_zone_follows_daylight_saving_both_ways() -> None:
    history = [SetZone(None, "America/New_York")]
    spring = [cgm("2025-03-09T06:59"), cgm("2025-03-09T07:01")]  # 01:59 EST, 03:01 EDT
    autumn = [cgm("2025-11-02T05:59"), cgm("2025-11-02T06:01")]  # 01:59 EDT, 01:01 EST
    place_all([*spring, *autumn], history)
    assert [o.offset_minutes for o in spring] == [-300, -240]
    assert [o.offset_minutes for o in autumn] == [-240, -300]
    assert {o.zone_source for o in [*spring, *autumn]} == {"set"}
    # a record's own non-zero offset is never overridden
    travel = record("2025-03-09T12:00", 60, "com.samsung")
    place_all([travel], history)
    assert (travel.offset_minutes, travel.zone_source) == (60, "record")


def test_zone_history_entries_and_auto() -> None:
    start = midnight_ms("Europe/Paris", datetime(2025, 6, 1).toordinal())
    assert start == utc_ms("2025-05-31T22:00")
    history = [SetZone(None, "America/New_York"), SetZone(start, "auto")]
    may, june = cgm("2025-05-30T12:00"), cgm("2025-06-02T12:00")
    june_pulse = record("2025-06-02T12:05", 120, "com.samsung")
    place_all([may, june, june_pulse], history)
    assert (may.offset_minutes, may.zone_source) == (-240, "set")
    assert (june.offset_minutes, june.zone_source) == (120, "inferred")


def test_zone_names_are_checked() -> None:
    assert check_zone("Europe/Paris") == "Europe/Paris" and check_zone("auto") == "auto"
    for bad in ("Mars/Olympus", "", "../etc/passwd", "UTC+5"):
        with pytest.raises(UnknownZone):
            check_zone(bad)
    assert zone_offset("Asia/Kolkata", utc_ms("2025-01-01T00:00")) == 330
