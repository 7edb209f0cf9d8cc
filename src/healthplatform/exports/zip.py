"""The ZIP of GET /v1/me/export.zip: everything of mine, raw and derived, streamed.

- ``raw/<upload id>_<file name>``: each original file exactly as uploaded (Avro);
- ``export.jsonl``: the JSON lines of ``/v1/me/export`` (uploads, day metrics, narratives);
- ``csv/records.csv``: every stored record (one line per record version kept), with its
  UTC and local times, zone and the record's fields as JSON;
- ``csv/days.csv``: the main metrics per day, the numbers of the day pages and trends.

The ZIP is written to the response as it is built (zip entries with data descriptors, no
seeking): memory holds one original file or one chunk of rows at a time.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import IO

from sqlalchemy import select

from healthplatform.db.models import DailyMetrics, Observation, Upload
from healthplatform.narratives.service import export_lines
from healthplatform.runtime import Resources
from healthplatform.trends.service import SERIES, day_values

CHUNK = 500
RECORD_COLUMNS = [
    "record_type",
    "id",
    "start_utc",
    "end_utc",
    "local_start",
    "local_date",
    "zone_offset_minutes",
    "zone_source",
    "app",
    "upload_id",
    "fields_json",
]


class _Sink(io.RawIOBase):
    """A write-only, unseekable file: ``zipfile`` writes into it, the response drains it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _local(ms: int, offset: int) -> str:
    local = datetime.fromtimestamp(ms / 1000, UTC) + timedelta(minutes=offset)
    sign = "-" if offset < 0 else "+"
    return (
        local.replace(tzinfo=None).isoformat()
        + f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    )


def _csv_line(values: list[object]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue().encode()


async def zip_stream(res: Resources, user: str) -> AsyncIterator[bytes]:
    sink = _Sink()
    archive = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED)

    def entry(name: str) -> IO[bytes]:
        return archive.open(
            zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), "w", force_zip64=True
        )

    async with res.sessions() as session:
        uploads = (
            await session.execute(
                select(Upload.id, Upload.file_name, Upload.object_key)
                .where(Upload.user_id == user)
                .order_by(Upload.created_at, Upload.id)
            )
        ).all()
    for upload_id, file_name, key in uploads:
        data = await res.store.get(key)
        with entry(f"raw/{upload_id}_{file_name}") as f:
            f.write(data)
        yield sink.drain()

    with entry("export.jsonl") as f:
        async for line in export_lines(res, user):
            f.write(line)
            if sum(map(len, sink.parts)) > 1 << 16:
                yield sink.drain()
    yield sink.drain()

    async with res.sessions() as session:
        with entry("csv/records.csv") as f:
            f.write(_csv_line(list(RECORD_COLUMNS)))
            rows = await session.stream(
                select(
                    Observation.record_type,
                    Observation.hc_id,
                    Observation.start_ms,
                    Observation.end_ms,
                    Observation.offset_minutes,
                    Observation.local_date,
                    Observation.zone_source,
                    Observation.origin,
                    Observation.upload_id,
                    Observation.fields,
                )
                .where(Observation.user_id == user)
                .order_by(Observation.start_ms, Observation.record_type, Observation.hc_id)
                .execution_options(yield_per=CHUNK)
            )
            async for r in rows:
                f.write(
                    _csv_line(
                        [
                            r.record_type,
                            r.hc_id,
                            _iso(r.start_ms),
                            _iso(r.end_ms),
                            _local(r.start_ms, r.offset_minutes),
                            r.local_date.isoformat(),
                            r.offset_minutes,
                            r.zone_source,
                            r.origin or "",
                            str(r.upload_id),
                            json.dumps(r.fields, sort_keys=True, default=str),
                        ]
                    )
                )
                if sum(map(len, sink.parts)) > 1 << 16:
                    yield sink.drain()
        yield sink.drain()
        with entry("csv/days.csv") as f:
            keys = [s.key for s in SERIES]
            f.write(_csv_line(["date", "zone", *keys, "bedtime", "wake_time", "not_enough_data"]))
            days = await session.stream(
                select(DailyMetrics.local_date, DailyMetrics.metrics, DailyMetrics.context)
                .where(DailyMetrics.user_id == user)
                .order_by(DailyMetrics.local_date)
                .execution_options(yield_per=CHUNK)
            )
            async for day, metrics, context in days:
                v = day_values(metrics or {}, context or {})
                f.write(
                    _csv_line(
                        [
                            day.isoformat(),
                            v["zone"],
                            *("" if v["values"][k] is None else v["values"][k] for k in keys),
                            v["times"]["bedtime"] or "",
                            v["times"]["wake_time"] or "",
                            "; ".join(f"{d}: {why}" for d, why in sorted(v["notes"].items())),
                        ]
                    )
                )
    archive.close()
    yield sink.drain()
