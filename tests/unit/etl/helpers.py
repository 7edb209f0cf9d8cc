"""Builders for hand-made observations (local wall-clock times at a fixed offset)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from healthplatform.healthconnect.observations import Observation, local_day_bounds_ms

EST = -300  # -05:00
MIN = 60_000
DAY = date(2025, 3, 10)
_ids = itertools.count()


def at(day: date, hh: int, mm: int = 0, offset: int = EST, ss: int = 0) -> int:
    """Epoch ms of local ``day hh:mm:ss`` at ``offset`` (hh may be < 0 or >= 24)."""
    return local_day_bounds_ms(day, offset)[0] + ((hh * 60 + mm) * 60 + ss) * 1000


def obs(
    record_type: str,
    start_ms: int,
    end_ms: int | None = None,
    *,
    offset: int = EST,
    end_offset: int | None = None,
    hc_id: str | None = None,
    **fields: Any,
) -> Observation:
    return Observation(
        record_type=record_type,
        hc_id=hc_id or f"id-{next(_ids):06d}",
        start_ms=start_ms,
        end_ms=start_ms if end_ms is None else end_ms,
        offset_minutes=offset,
        fields=fields,
        end_offset_minutes=end_offset,
    )


def cgm(day: date, values: list[float], *, step_min: int = 5, offset: int = EST,
        start_hh: int = 0, **tags: Any) -> list[Observation]:  # fmt: skip
    """One BloodGlucoseRecord per value, ``step_min`` apart from ``start_hh``:00 local."""
    t0 = at(day, start_hh, offset=offset)
    return [
        obs(
            "BloodGlucoseRecord",
            t0 + i * step_min * MIN,
            offset=offset,
            levelInMilligramsPerDeciliter=v,
            **tags,
        )
        for i, v in enumerate(values)
    ]


def hr_record(start_ms: int, bpms: list[float], *, step_ms: int = MIN, offset: int = EST
              ) -> Observation:  # fmt: skip
    samples = [{"timeEpochMillis": start_ms + i * step_ms, "beatsPerMinute": b}
               for i, b in enumerate(bpms)]  # fmt: skip
    return obs("HeartRateRecord", start_ms, start_ms + max(0, len(bpms) - 1) * step_ms,
               offset=offset, samples=samples)  # fmt: skip


def sleep(start_ms: int, stages: list[tuple[int, str]], *, offset: int = EST,
          hc_id: str | None = None) -> Observation:  # fmt: skip
    """A session made of consecutive (minutes, stage) segments from ``start_ms``."""
    segs, t = [], start_ms
    for minutes, stage in stages:
        segs.append({"startTimeEpochMillis": t, "endTimeEpochMillis": t + minutes * MIN,
                     "stage": stage})  # fmt: skip
        t += minutes * MIN
    return obs("SleepSessionRecord", start_ms, t, offset=offset, hc_id=hc_id, stages=segs)


def next_day(day: date, n: int = 1) -> date:
    return day + timedelta(days=n)
