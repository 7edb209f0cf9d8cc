"""Typed observations: one decoded Health Connect record with its times made explicit.

Times stay epoch milliseconds (UTC). ``record_offset`` is the zone offset the record itself
carries (``"Z"`` -> 0, ``"-05:00"`` -> -300, absent -> None); ``offset_minutes`` is the
offset the record is *placed* at, so its local time is ``utc + offset_minutes``. Placement
(``etl.zones``) keeps the record's own offset or, for ``Z`` from an app that stamps UTC and
for records without an offset, uses the person's zone; ``zone_source`` says which.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<h>\d{2}):?(?P<m>\d{2})(?::?(?P<s>\d{2}))?$")
TIME_FIELDS = {
    "metadata",
    "timeEpochMillis",
    "startTimeEpochMillis",
    "endTimeEpochMillis",
    "zoneOffsetId",
    "startZoneOffsetId",
    "endZoneOffsetId",
    "appRecordFetchTimeEpochMillis",
}


class MalformedRecord(ValueError):
    """A record inside a valid file that cannot be used (counted and reported, not fatal)."""


@lru_cache(maxsize=256)
def parse_offset(value: str | None) -> int | None:
    """``"Z"`` -> 0, ``"-05:00"`` -> -300, ``"+0530"`` -> 330; None when absent/invalid."""
    if value is None:
        return None
    if value in ("Z", "z", "UTC", "+00:00", "-00:00"):
        return 0
    match = _OFFSET.match(value.strip())
    if not match:
        return None
    minutes = int(match["h"]) * 60 + int(match["m"])
    if minutes > 18 * 60:
        return None
    return -minutes if match["sign"] == "-" else minutes


@dataclass(slots=True)
class Observation:
    """One deduplicated Health Connect record.

    ``fields`` holds the record's own values by their schema names (e.g.
    ``levelInMilligramsPerDeciliter``, ``count``, ``samples``, ``stages``): everything except
    metadata, times and zone offsets.

    Treated as immutable once placed; not ``frozen`` because a frozen dataclass is four
    times slower to build and the ETL builds one per record.
    """

    record_type: str
    hc_id: str
    start_ms: int
    end_ms: int
    offset_minutes: int
    fields: dict[str, Any] = field(default_factory=dict)
    last_modified_ms: int = 0
    end_offset_minutes: int | None = None
    origin: str | None = None  # metadata.dataOriginPackageName
    record_offset: int | None = None  # the record's own start offset (None: absent)
    record_end_offset: int | None = None
    zone_source: str = "record"  # record | inferred | set | utc (see etl.zones)
    content_hash: int = 0  # tie-break between versions with the same lastModified
    # local dates touched, filled in once by ``repository.observation_days``
    touched_days: tuple[date, ...] | None = field(default=None, repr=False, compare=False)
    # values computed from the record once and asked again (``metrics.common.samples_on``)
    memo: dict[Any, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def local_start(self) -> datetime:
        """Local wall-clock start (naive datetime in the record's own zone)."""
        return local_time(self.start_ms, self.offset_minutes)

    @property
    def local_end(self) -> datetime:
        offset = (
            self.end_offset_minutes if self.end_offset_minutes is not None else self.offset_minutes
        )
        return local_time(self.end_ms, offset)

    @property
    def local_date(self) -> date:
        return self.local_start.date()


_EPOCH = datetime(1970, 1, 1)


def local_time(epoch_ms: int, offset_minutes: int) -> datetime:
    """Naive local wall-clock time of an epoch-millisecond instant at a fixed offset."""
    return _EPOCH + timedelta(milliseconds=epoch_ms + offset_minutes * 60_000)


def local_day_bounds_ms(day: date, offset_minutes: int) -> tuple[int, int]:
    """[start, end) of a local calendar day at a fixed offset, in epoch milliseconds."""
    start_ms = (day.toordinal() - _EPOCH_ORDINAL) * 86_400_000 - offset_minutes * 60_000
    return start_ms, start_ms + 86_400_000


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def content_hash(record: dict[str, Any]) -> int:
    """The first 8 bytes of SHA-256 over the record's canonical JSON, as a signed int64."""
    body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return int.from_bytes(hashlib.sha256(body).digest()[:8], "big", signed=True)


def is_newer(candidate: Observation, kept: Observation) -> bool:
    """The one tie-break for two versions of a record (same type and ``metadata.id``): the
    newer ``lastModifiedTimeEpochMillis`` wins; with equal times the larger content hash
    wins. The database upsert applies the same rule (``etl.repository``)."""
    return (candidate.last_modified_ms, candidate.content_hash) > (
        kept.last_modified_ms,
        kept.content_hash,
    )


def from_record(record_type: str, record: dict[str, Any]) -> Observation:
    """Normalise one decoded Avro record, placed at its own offset (UTC when it has none)
    until ``etl.zones`` places it. Raises :class:`MalformedRecord`."""
    meta = record.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("id"), str) or not meta["id"]:
        raise MalformedRecord("record has no metadata.id")
    if "timeEpochMillis" in record:
        start = end = record["timeEpochMillis"]
        raw_offset = record.get("zoneOffsetId")
        raw_end_offset = raw_offset
    else:
        start, end = record.get("startTimeEpochMillis"), record.get("endTimeEpochMillis")
        raw_offset = record.get("startZoneOffsetId")
        raw_end_offset = record.get("endZoneOffsetId")
    if not isinstance(start, int) or not isinstance(end, int):
        raise MalformedRecord("record has no time")
    if end < start:
        raise MalformedRecord("record ends before it starts")
    if not -62_135_596_800_000 < start < 253_402_300_799_000:
        raise MalformedRecord("record time out of range")
    offset = parse_offset(raw_offset)
    end_offset = parse_offset(raw_end_offset)
    origin = meta.get("dataOriginPackageName")
    return Observation(
        record_type=record_type,
        hc_id=meta["id"],
        start_ms=start,
        end_ms=end,
        offset_minutes=offset if offset is not None else 0,
        fields={k: v for k, v in record.items() if k not in TIME_FIELDS},
        last_modified_ms=int(meta.get("lastModifiedTimeEpochMillis") or 0),
        end_offset_minutes=end_offset,
        origin=origin[:255] if isinstance(origin, str) else None,
        record_offset=offset,
        record_end_offset=end_offset,
        zone_source="record" if offset is not None else "utc",
        content_hash=content_hash(record),
    )
