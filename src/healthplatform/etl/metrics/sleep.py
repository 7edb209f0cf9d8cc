"""Sleep metrics for one local day: the sessions that END on that day (the wake-up day).

Overlapping sessions (several apps recording the same night) are grouped; each group keeps
one session (with stages first, then the longest, then the smallest id). The longest kept
session is the main sleep, the others are naps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from healthplatform.etl.metrics.common import (
    MINUTE_MS,
    Json,
    domain,
    end_offset,
    hhmm,
    local_date,
    minutes_from_midnight,
    of_type,
)
from healthplatform.healthconnect.observations import Observation

RECORD = "SleepSessionRecord"
SLEEP_STAGES = ("LIGHT", "DEEP", "REM", "SLEEPING")
WAKE_STAGES = ("AWAKE", "OUT_OF_BED")
ALL_STAGES = (*SLEEP_STAGES, *WAKE_STAGES, "UNKNOWN")
MIN_SCORED_PCT = 50.0
MIN_AWAKENING_MIN = 5.0  # shorter wake bouts are not counted as awakenings

Segment = tuple[int, int, str]


def segments(obs: Observation) -> list[Segment]:
    """Stage segments clipped to the session, sorted; an overlapping later one is trimmed."""
    raw: list[Segment] = []
    for stage in obs.fields.get("stages") or []:
        if not isinstance(stage, dict):
            continue
        start, end = stage.get("startTimeEpochMillis"), stage.get("endTimeEpochMillis")
        name = stage.get("stage") if stage.get("stage") in ALL_STAGES else "UNKNOWN"
        if isinstance(start, int) and isinstance(end, int):
            raw.append((max(start, obs.start_ms), min(end, obs.end_ms), str(name)))
    out: list[Segment] = []
    cursor = obs.start_ms
    for start, end, name in sorted(raw):
        start = max(start, cursor)
        if end > start:
            out.append((start, end, name))
            cursor = end
    return out


def _minutes(segs: Sequence[Segment], names: Sequence[str]) -> float:
    return sum(end - start for start, end, name in segs if name in names) / MINUTE_MS


def _timing(obs: Observation, day: date) -> Json:
    mid = (obs.start_ms + obs.end_ms) // 2
    off_start, off_end = obs.offset_minutes, end_offset(obs)
    return {
        "bedtime": hhmm(obs.start_ms, off_start),
        "wake_time": hhmm(obs.end_ms, off_end),
        "midpoint": hhmm(mid, off_end),
        "bedtime_rel_min": minutes_from_midnight(obs.start_ms, off_start, day),
        "wake_rel_min": minutes_from_midnight(obs.end_ms, off_end, day),
        "midpoint_rel_min": minutes_from_midnight(mid, off_end, day),
    }


def session_metrics(obs: Observation, day: date) -> Json:
    """Metrics of one session; ``day`` is its wake-up day (for relative clock times).

    With stages: TST = LIGHT + DEEP + REM + SLEEPING; awakenings = wake bouts (consecutive
    AWAKE/OUT_OF_BED segments, UNKNOWN ignored) of >= 5 min between sleep onset and the end
    of the last sleep stage (None, like WASO, when no stage is a sleep stage). Without stages:
    TST = time in bed and stage metrics are None. Stages covering < 50 % of the time in
    bed leave TST None.
    """
    tib = (obs.end_ms - obs.start_ms) / MINUTE_MS
    segs = segments(obs)
    out: Json = {"time_in_bed_min": tib, **_timing(obs, day), "has_stages": bool(segs)}
    empty = dict.fromkeys(
        (
            "efficiency_pct",
            "sleep_onset_latency_min",
            "waso_min",
            "awakenings",
            "stages_min",
            "stages_pct_of_tst",
        ),
    )
    if not segs:
        return out | {"tst_min": tib, "scored_pct": None} | empty
    scored = sum(end - start for start, end, name in segs if name != "UNKNOWN") / MINUTE_MS
    scored_pct = 100.0 * scored / tib if tib else 0.0
    stages = {name.lower(): _minutes(segs, (name,)) for name in ALL_STAGES}
    if scored_pct < MIN_SCORED_PCT:
        return out | {"tst_min": None, "scored_pct": scored_pct} | empty | {"stages_min": stages}
    tst = _minutes(segs, SLEEP_STAGES)
    asleep = [s for s in segs if s[2] in SLEEP_STAGES]
    onset = asleep[0][0] if asleep else None
    final = asleep[-1][1] if asleep else None
    awakenings, waso = 0, 0.0
    bout = 0.0  # minutes of the wake bout in progress (after a sleep stage)
    for start, end, name in segs:
        if onset is None or final is None or start < onset or start >= final:
            continue
        if name in WAKE_STAGES:
            minutes = (min(end, final) - start) / MINUTE_MS
            waso += minutes
            bout += minutes
        elif name in SLEEP_STAGES:
            awakenings += bout >= MIN_AWAKENING_MIN
            bout = 0.0
    return out | {
        "tst_min": tst,
        "scored_pct": scored_pct,
        "efficiency_pct": 100.0 * tst / tib if tib else None,
        "sleep_onset_latency_min": (onset - obs.start_ms) / MINUTE_MS
        if onset is not None
        else None,
        # no sleep stage, no sleep onset: wake *after sleep onset* is undefined, not zero
        "waso_min": waso if onset is not None else None,
        "awakenings": awakenings if onset is not None else None,
        "stages_min": stages,
        "stages_pct_of_tst": {
            name.lower(): 100.0 * stages[name.lower()] / tst if tst else None
            for name in SLEEP_STAGES
        },
    }


def kept_sessions(sessions: Sequence[Observation]) -> list[Observation]:
    """One session per group of time-overlapping sessions."""
    groups: list[list[Observation]] = []
    group_end = -1
    for obs in sorted(sessions, key=lambda o: (o.start_ms, o.end_ms, o.hc_id)):
        if groups and obs.start_ms < group_end:
            groups[-1].append(obs)
            group_end = max(group_end, obs.end_ms)
        else:
            groups.append([obs])
            group_end = obs.end_ms
    return [min(g, key=lambda o: (not segments(o), o.start_ms - o.end_ms, o.hc_id)) for g in groups]


def sleep_day(observations: Sequence[Observation], day: date) -> Json | None:
    """Sleep of the night ending on ``day`` plus naps ending that day; None without any."""
    sessions = [
        o
        for o in of_type(observations, RECORD)
        if o.end_ms > o.start_ms and local_date(o.end_ms, end_offset(o)) == day
    ]
    if not sessions:
        return None
    kept = kept_sessions(sessions)
    main = min(kept, key=lambda o: (o.start_ms - o.end_ms, o.start_ms, o.hc_id))
    main_metrics = session_metrics(main, day)
    naps = [session_metrics(o, day) for o in kept if o is not main]
    nap_sleep = math.fsum(n["tst_min"] for n in naps if n["tst_min"] is not None)
    ok = main_metrics["tst_min"] is not None
    reason = (
        f"sleep stages cover {main_metrics['scored_pct']:.0f} % of the time in bed, "
        f"at least {MIN_SCORED_PCT:.0f} % needed"
        if not ok
        else None
    )
    coverage: Json = {
        "records": {RECORD: len(sessions)},
        "sessions": len(sessions),
        "sessions_used": len(kept),
        "overlapping_sessions_ignored": len(sessions) - len(kept),
    }
    return domain(
        ok,
        reason,
        coverage,
        main=main_metrics,
        naps={"count": len(naps), "sleep_min": nap_sleep},
        total_sleep_min=main_metrics["tst_min"] + nap_sleep if ok else None,
    )
