"""Sleep metrics against hand-computed values."""

from __future__ import annotations

import pytest

from healthplatform.etl.metrics import compute_day
from tests.unit.etl.helpers import DAY, at, next_day, obs, sleep

# A night from 23:00 (evening before DAY) to 07:00 on DAY, 480 min in bed:
NIGHT = [
    (20, "AWAKE"),  # 23:00-23:20 before onset: sleep onset latency 20 min
    (100, "LIGHT"),  # 23:20-01:00 sleep onset at 23:20
    (60, "DEEP"),  # 01:00-02:00
    (10, "AWAKE"),  # 02:00-02:10 awakening 1
    (5, "OUT_OF_BED"),  # 02:10-02:15 same awakening (no sleep in between)
    (105, "LIGHT"),  # 02:15-04:00
    (60, "REM"),  # 04:00-05:00
    (5, "UNKNOWN"),  # 05:00-05:05 ignored for transitions, unscored
    (15, "AWAKE"),  # 05:05-05:20 awakening 2 (last scored stage before it: REM)
    (80, "LIGHT"),  # 05:20-06:40 end of the last sleep stage = final awakening
    (20, "AWAKE"),  # 06:40-07:00 after the final awakening: not counted
]


def night() -> list:  # type: ignore[type-arg]
    return [sleep(at(DAY, -1), NIGHT)]


def test_staged_night_hand_computed() -> None:
    s = compute_day(night(), DAY)["sleep"]
    m = s["main"]
    assert s["status"] == "ok"
    assert m["time_in_bed_min"] == 480.0
    # TST = light 100 + 105 + 80 = 285, deep 60, REM 60 -> 405 min
    assert m["tst_min"] == 405.0
    # efficiency = 405 / 480 = 84.375 %
    assert m["efficiency_pct"] == 84.375
    assert m["sleep_onset_latency_min"] == 20.0
    assert m["awakenings"] == 2
    # WASO = 10 + 5 + 15 = 30 min (the 20 min after 06:40 are after the final awakening)
    assert m["waso_min"] == 30.0
    # awake = 20 + 10 + 15 + 20 = 65 (whole session, unlike WASO)
    assert m["stages_min"] == {
        "light": 285.0, "deep": 60.0, "rem": 60.0, "sleeping": 0.0,
        "awake": 65.0, "out_of_bed": 5.0, "unknown": 5.0,
    }  # fmt: skip
    # light 285 / 405 = 70.37 %, deep and REM 60 / 405 = 14.81 %
    assert m["stages_pct_of_tst"]["light"] == pytest.approx(70.3704, abs=1e-4)
    assert m["stages_pct_of_tst"]["deep"] == pytest.approx(14.8148, abs=1e-4)
    # scored = (480 - 5 unknown) / 480 = 98.96 %
    assert m["scored_pct"] == pytest.approx(98.9583, abs=1e-4)
    # timing: 23:00 -> 07:00, midpoint 03:00; minutes from DAY's midnight -60, 420, 180
    assert (m["bedtime"], m["wake_time"], m["midpoint"]) == ("23:00", "07:00", "03:00")
    assert (m["bedtime_rel_min"], m["wake_rel_min"], m["midpoint_rel_min"]) == (-60, 420, 180)
    assert s["total_sleep_min"] == 405.0


def test_session_belongs_to_the_wake_up_day() -> None:
    assert "sleep" not in compute_day(night(), next_day(DAY, -1))
    assert "sleep" in compute_day(night(), DAY)


def test_nap_overlap_and_unstaged() -> None:
    nap = obs("SleepSessionRecord", at(DAY, 14), at(DAY, 14, 30), stages=[])
    other_app = obs("SleepSessionRecord", at(DAY, -1, 30), at(DAY, 6, 30), stages=[])
    s = compute_day([*night(), nap, other_app], DAY)["sleep"]
    # the session with stages is kept from the overlapping pair; the nap is 30 min unstaged
    assert s["coverage"]["sessions"] == 3
    assert s["coverage"]["overlapping_sessions_ignored"] == 1
    assert s["main"]["tst_min"] == 405.0
    assert s["naps"] == {"count": 1, "sleep_min": 30.0}
    assert s["total_sleep_min"] == 435.0  # 405 + 30


def test_session_without_stages() -> None:
    s = compute_day([obs("SleepSessionRecord", at(DAY, 0), at(DAY, 7), stages=[])], DAY)
    m = s["sleep"]["main"]
    # no stages: TST = duration = 420 min; nothing else is invented
    assert m["tst_min"] == 420.0 and m["has_stages"] is False
    assert m["efficiency_pct"] is None and m["awakenings"] is None and m["stages_min"] is None


def test_mostly_unknown_stages_are_insufficient() -> None:
    # 60 of 150 min scored = 40 % < 50 %
    session = sleep(at(DAY, 1), [(60, "LIGHT"), (90, "UNKNOWN")])
    s = compute_day([session], DAY)["sleep"]
    assert s["status"] == "insufficient data"
    assert "40 % of the time in bed" in s["reason"]
    assert s["main"]["tst_min"] is None and s["total_sleep_min"] is None


def test_generic_sleeping_stage() -> None:
    # SLEEPING counts as sleep: 10 awake + 400 sleeping + 10 awake -> TST 400, 0 awakenings
    session = sleep(at(DAY, 0), [(10, "AWAKE"), (400, "SLEEPING"), (10, "AWAKE")])
    m = compute_day([session], DAY)["sleep"]["main"]
    assert m["tst_min"] == 400.0 and m["awakenings"] == 0
    assert m["stages_pct_of_tst"]["sleeping"] == 100.0


def test_a_night_without_a_sleep_stage_has_no_sleep_onset() -> None:
    # all scored, none asleep (found by the crash test's synthetic nights): there is no sleep
    # onset, so wake after sleep onset and awakenings are undefined, not zero
    session = sleep(at(DAY, 0), [(30, "AWAKE"), (20, "OUT_OF_BED"), (10, "AWAKE")])
    m = compute_day([session], DAY)["sleep"]["main"]
    assert m["tst_min"] == 0.0 and m["efficiency_pct"] == 0.0
    assert m["sleep_onset_latency_min"] is None
    assert m["waso_min"] is None and m["awakenings"] is None
