"""Shared helpers: local-day assignment, interval splitting, numbers, episodes, summaries.

Day rules (see docs/metrics.md): an instant belongs to the local date of its own time and
offset; an interval record is split over local days in proportion to its overlap with each
day window, computed at the record's own start offset (so the windows tile time and a split
conserves the total); samples inside a record take the record's start offset.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from healthplatform.healthconnect.observations import Observation, local_day_bounds_ms, local_time

Json = dict[str, Any]

OK = "ok"
INSUFFICIENT = "insufficient data"
MINUTE_MS = 60_000
DAY_MS = 86_400_000
_EPOCH_DATE = date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH_DATE.toordinal()
HOUR_MS = 3_600_000
DAY_MINUTES = 1440
DUPLICATE_GAP_MS = 30_000  # intervals shorter than this are ignored when estimating sampling


@dataclass(frozen=True)
class Point:
    """One timed value; ``offset`` is the zone offset (minutes) used for its local time."""

    ms: int
    value: float
    offset: int

    @property
    def local(self) -> datetime:
        return local_time(self.ms, self.offset)


@dataclass(frozen=True)
class Piece:
    """The part of an interval record that falls inside one local day."""

    obs: Observation
    start_ms: int
    end_ms: int
    fraction: float


def num(value: object) -> float | None:
    """A finite number as float, else None (booleans, None, NaN and strings are not numbers)."""
    kind = type(value)
    if kind is float:  # the common case first: this runs for every value of every record
        return value if math.isfinite(value) else None  # type: ignore[arg-type,return-value]
    if kind is int:
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def canonical(observations: Iterable[Observation]) -> list[Observation]:
    """One observation per record, i.e. per (record type, ``hc_id``), as the database keys
    them (``observations.is_newer`` decides between versions), in a fixed order.

    The fixed order makes every result independent of the order of the input. The key
    includes the type: an id is a record's identity only within its type, and records of
    two types with the same id are two records, both counted (as stored and verified).
    """
    best: dict[tuple[str, str], Observation] = {}
    for obs in observations:
        key = (obs.record_type, obs.hc_id)
        kept = best.get(key)
        if kept is None or _rank(obs) > _rank(kept):
            best[key] = obs
    return sorted(best.values(), key=lambda o: (o.start_ms, o.end_ms, o.record_type, o.hc_id))


def _rank(obs: Observation) -> tuple[int, int, int, int, str]:
    """``is_newer``'s order; hand-made observations without a content hash fall back on
    their times and fields so that the result never depends on the input order."""
    return (
        obs.last_modified_ms,
        obs.content_hash,
        obs.start_ms,
        obs.end_ms,
        repr(sorted(obs.fields.items())),
    )


def of_type(observations: Iterable[Observation], *record_types: str) -> list[Observation]:
    return [o for o in observations if o.record_type in record_types]


def local_date(epoch_ms: int, offset_minutes: int) -> date:
    return _EPOCH_DATE + timedelta(days=(epoch_ms + offset_minutes * MINUTE_MS) // DAY_MS)


def end_offset(obs: Observation) -> int:
    return obs.end_offset_minutes if obs.end_offset_minutes is not None else obs.offset_minutes


def instant_on(obs: Observation, day: date) -> bool:
    """An instant record belongs to the local date of its own time and offset."""
    lo, hi = local_day_bounds_ms(day, obs.offset_minutes)
    return lo <= obs.start_ms < hi


def day_piece(obs: Observation, day: date) -> Piece | None:
    """The share of an interval record inside the local ``day`` (None when it has none).

    A zero-length record counts whole on the local date of its start.
    """
    if obs.end_ms <= obs.start_ms:
        return Piece(obs, obs.start_ms, obs.start_ms, 1.0) if instant_on(obs, day) else None
    lo, hi = local_day_bounds_ms(day, obs.offset_minutes)
    start, end = max(lo, obs.start_ms), min(hi, obs.end_ms)
    if end <= start:
        return None
    return Piece(obs, start, end, (end - start) / (obs.end_ms - obs.start_ms))


def samples_on(obs: Observation, day: date, key: str) -> list[Point]:
    """The record's ``samples[*][key]`` whose local time (record's offset) is on ``day``
    (kept on the observation: the metrics and the chart series both ask)."""
    memo = obs.memo if obs.memo is not None else {}
    found: list[Point] | None = memo.get((day, key))
    if found is None:
        found = memo[(day, key)] = _samples_on(obs, day, key)
        obs.memo = memo
    return found


def _samples_on(obs: Observation, day: date, key: str) -> list[Point]:
    points: list[Point] = []
    lo, hi = local_day_bounds_ms(day, obs.offset_minutes)
    for sample in obs.fields.get("samples") or []:
        if not isinstance(sample, dict):
            continue
        ms = sample.get("timeEpochMillis")
        if type(ms) is int and lo <= ms < hi and (value := num(sample.get(key))) is not None:
            points.append(Point(ms, value, obs.offset_minutes))
    return points


def instant_records_on(
    observations: Iterable[Observation], day: date, key: str
) -> list[Observation]:
    """Instant records on ``day`` whose field ``key`` is a finite number."""
    return [o for o in observations if instant_on(o, day) and num(o.fields.get(key)) is not None]


def instants_on(observations: Iterable[Observation], day: date, key: str) -> list[Point]:
    """Values of field ``key`` of instant records on ``day``, sorted by time."""
    points = [
        Point(o.start_ms, float(o.fields[key]), o.offset_minutes)
        for o in instant_records_on(observations, day, key)
    ]
    return sorted(points, key=lambda p: (p.ms, p.value))


def hhmm(epoch_ms: int, offset_minutes: int) -> str:
    """Local wall-clock ``HH:MM`` (seconds truncated)."""
    minute = (epoch_ms // MINUTE_MS + offset_minutes) % DAY_MINUTES
    return f"{minute // 60:02d}:{minute % 60:02d}"


def minutes_from_midnight(epoch_ms: int, offset_minutes: int, day: date) -> float:
    """Minutes from local midnight starting ``day`` (negative on the evening before)."""
    midnight_ms = (day.toordinal() - _EPOCH_ORDINAL) * DAY_MS
    return (epoch_ms + offset_minutes * MINUTE_MS - midnight_ms) / MINUTE_MS


def median_interval_ms(times: Iterable[int]) -> float | None:
    """Median spacing of distinct times, ignoring spacings under 30 s (duplicate sources)."""
    ordered = sorted(set(times))
    gaps = [b - a for a, b in pairwise(ordered) if b - a >= DUPLICATE_GAP_MS]
    return float(statistics.median(gaps)) if gaps else None


def record_counts(observations: Iterable[Observation]) -> dict[str, int]:
    return dict(sorted(Counter(o.record_type for o in observations).items()))


def series_summary(points: Sequence[Point], unit: str) -> Json:
    """Readings of one quantity on one day: count, latest (by time), min, max, mean."""
    ordered = sorted(points, key=lambda p: (p.ms, p.value))
    values = [p.value for p in ordered]
    last = ordered[-1]
    return {
        "unit": unit,
        "readings": len(values),
        "latest": last.value,
        "latest_time": hhmm(last.ms, last.offset),
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def series_metrics(
    observations: Sequence[Observation], day: date, series: dict[str, tuple[str, str, str]]
) -> tuple[Json, list[Observation]]:
    """For each ``record type -> (output key, field, unit)``: the summary of the day's
    positive readings of ``field`` under ``key``, and the records that contributed."""
    metrics: Json = {}
    contributing: list[Observation] = []
    for record_type, (key, field, unit) in series.items():
        found = instant_records_on(of_type(observations, record_type), day, field)
        points = [p for p in instants_on(found, day, field) if p.value > 0]
        if points:
            metrics[key] = series_summary(points, unit)
            contributing += found
    return metrics, contributing


def sample_summary(points: Sequence[Point], unit: str) -> Json:
    """Samples of one quantity on one day: count, min, mean, max (each sample weighs 1)."""
    values = sorted(p.value for p in points)
    return {
        "unit": unit,
        "samples": len(values),
        "min": values[0],
        "mean": statistics.fmean(values),
        "max": values[-1],
    }


def episodes(
    points: Sequence[Point],
    member: Callable[[Point], bool],
    *,
    min_span_ms: int,
    max_gap_ms: int,
    extreme: Callable[[Iterable[float]], float],
) -> list[Json]:
    """Maximal runs of consecutive member points spanning at least ``min_span_ms``.

    A run breaks at a non-member point or when two member points are more than
    ``max_gap_ms`` apart. The span is first to last point of the run.
    """
    found: list[Json] = []
    run: list[Point] = []

    def close() -> None:
        if run and run[-1].ms - run[0].ms >= min_span_ms:
            found.append(
                {
                    "start": hhmm(run[0].ms, run[0].offset),
                    "end": hhmm(run[-1].ms, run[-1].offset),
                    "minutes": (run[-1].ms - run[0].ms) / MINUTE_MS,
                    "readings": len(run),
                    "extreme": extreme(p.value for p in run),
                }
            )
        run.clear()

    for point in sorted(points, key=lambda p: (p.ms, p.value)):
        if not member(point):
            close()
            continue
        if run and point.ms - run[-1].ms > max_gap_ms:
            close()
        run.append(point)
    close()
    return found


def best_non_overlapping(pieces: Sequence[Piece], value: Callable[[Piece], float]) -> list[Piece]:
    """The set of pairwise non-overlapping pieces with the largest total value.

    Weighted interval scheduling; used when several apps report the same activity so that
    no minute is counted twice. Zero-length pieces occupy one millisecond.
    """
    items = sorted(pieces, key=lambda p: (_end(p), p.start_ms, p.obs.hc_id))
    ends = [_end(p) for p in items]
    best: list[float] = [0.0]
    for i, piece in enumerate(items):
        j = bisect.bisect_right(ends, piece.start_ms, 0, i)
        best.append(max(best[i], best[j] + value(piece)))
    chosen: list[Piece] = []
    i = len(items)
    while i > 0:
        if best[i] > best[i - 1]:  # item i-1 was taken
            piece = items[i - 1]
            chosen.append(piece)
            i = bisect.bisect_right(ends, piece.start_ms, 0, i - 1)
        else:
            i -= 1
    return sorted(chosen, key=lambda p: (p.start_ms, p.obs.hc_id))


def _end(piece: Piece) -> int:
    return max(piece.end_ms, piece.start_ms + 1)


def union_ms(intervals: Iterable[tuple[int, int]]) -> int:
    """Total length of the union of [start, end) intervals."""
    total, cur_start, cur_end = 0, None, None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_start is not None and cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_start is not None and cur_end is not None:
        total += cur_end - cur_start
    return total


def domain(ok: bool, reason: str | None, coverage: Json, **metrics: Any) -> Json:
    """A domain result: status, reason (None when ok), coverage, then the metrics."""
    return {
        "status": OK if ok else INSUFFICIENT,
        "reason": None if ok else reason,
        "coverage": coverage,
        **metrics,
    }
