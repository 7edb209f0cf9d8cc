"""Bounded, whole-file validation of Avro Object Container Files.

The container framing (header, blocks, sync markers) is parsed here so that every limit is
checked *before* work is done: block sizes against the file, decompressed sizes against
``max_decoded_bytes`` (a deflate bomb stops at the limit), record counts against the block
size. The writer schema must resolve against ours (:mod:`writer_schema`), array/map item
counts are bounded before a block is decoded (:mod:`scan`), records are decoded by fastavro
into our schema's shape, and one CPU budget covers the file. Every failure is an
:class:`AvroFileError` carrying the HTTP status that describes it.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fastavro

from healthplatform.healthconnect.scan import Limits, Scan, ScanFn, ScanRefused, compile_scanner
from healthplatform.healthconnect.writer_schema import (
    CheckedSchema,
    SchemaRefused,
    check_writer_schema,
)

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
MAX_SCHEMA_BYTES = 256 * 1024
SUPPORTED_CODECS = ("null", "deflate", "snappy")


class AvroFileError(Exception):
    """The upload is not an acceptable Health Connect Avro file."""

    def __init__(self, message: str, *, status_code: int = 400, reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.reason = reason


@dataclass(frozen=True)
class FileSummary:
    """What validation learned about a file."""

    record_type: str
    record_count: int
    codec: str
    data_start_ms: int | None
    data_end_ms: int | None
    writer_schema: dict[str, Any]


class _Cursor:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def read_long(self) -> int:
        """Zig-zag varint as Avro writes ``long``; at most 10 bytes."""
        shift = 0
        result = 0
        for _ in range(10):
            if self.pos >= len(self.data):
                raise AvroFileError("truncated file", reason="truncated")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return (result >> 1) ^ -(result & 1)
            shift += 7
        raise AvroFileError("corrupt varint", reason="corrupt")

    def read_bytes(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise AvroFileError("truncated file", reason="truncated")
        chunk = bytes(self.data[self.pos : self.pos + size])
        self.pos += size
        return chunk


def _read_header(cur: _Cursor) -> tuple[dict[str, bytes], bytes]:
    if cur.read_bytes(4) != MAGIC:
        raise AvroFileError("not an Avro object container file", status_code=415, reason="not_avro")
    meta: dict[str, bytes] = {}
    while True:
        count = cur.read_long()
        if count == 0:
            break
        if count < 0:
            count = -count
            cur.read_long()  # block size in bytes, not needed
        if count > 1000:
            raise AvroFileError("corrupt header: too many metadata entries", reason="corrupt")
        for _ in range(count):
            key = cur.read_bytes(cur.read_long()).decode("utf-8", "replace")
            size = cur.read_long()
            if size > MAX_SCHEMA_BYTES:
                raise AvroFileError("header metadata too large", reason="corrupt")
            meta[key] = cur.read_bytes(size)
    return meta, cur.read_bytes(SYNC_SIZE)


def _writer_schema(meta: dict[str, bytes]) -> CheckedSchema:
    raw = meta.get("avro.schema")
    if raw is None:
        raise AvroFileError("header has no avro.schema", reason="corrupt")
    try:
        return check_writer_schema(bytes(raw))
    except SchemaRefused as exc:
        raise AvroFileError(str(exc), status_code=422, reason="unsupported_schema") from exc


PREFIX_BYTES = 1 << 20


def _decompress(
    codec: str, block: bytes, budget: int, check_prefix: Callable[[bytes], None]
) -> bytes:
    """The block's bytes, at most ``budget``. A deflate block larger than
    :data:`PREFIX_BYTES` is inflated in two steps: ``check_prefix`` sees the first MiB and
    may refuse the block before the rest is inflated."""
    if codec == "null":
        data = block
    elif codec == "deflate":
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(block, min(PREFIX_BYTES, budget + 1))
            if len(data) == PREFIX_BYTES and not inflater.eof and budget + 1 > PREFIX_BYTES:
                check_prefix(data)
                data += inflater.decompress(inflater.unconsumed_tail, budget + 1 - len(data))
        except zlib.error as exc:
            raise AvroFileError("corrupt deflate block", reason="corrupt") from exc
        if len(data) > budget or inflater.unconsumed_tail:
            raise AvroFileError(
                "decompressed data exceeds the limit", status_code=413, reason="too_large"
            )
        if not inflater.eof:
            raise AvroFileError("truncated deflate block", reason="corrupt")
    elif codec == "snappy":
        data = _snappy(block, budget)
    else:
        raise AvroFileError(f"unsupported codec {codec!r}", reason="codec")
    if len(data) > budget:
        raise AvroFileError(
            "decompressed data exceeds the limit", status_code=413, reason="too_large"
        )
    return data


def _snappy(block: bytes, budget: int) -> bytes:
    import cramjam

    if len(block) < 5:
        raise AvroFileError("corrupt snappy block", reason="corrupt")
    payload, crc = block[:-4], int.from_bytes(block[-4:], "big")
    length, shift = 0, 0  # snappy's preamble: the uncompressed length as an unsigned varint
    for byte in payload[:5]:
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if length > budget:
        raise AvroFileError(
            "decompressed data exceeds the limit", status_code=413, reason="too_large"
        )
    try:
        data = bytes(cramjam.snappy.decompress_raw(payload))
    except Exception as exc:
        raise AvroFileError("corrupt snappy block", reason="corrupt") from exc
    if zlib.crc32(data) & 0xFFFFFFFF != crc:
        raise AvroFileError("snappy block checksum mismatch", reason="corrupt")
    return data


# Instants a record may carry: 1900-01-01 .. 2200-01-01 UTC in epoch milliseconds. Outside
# them a value is an error (2^62 ms is year 146 million: no date type can hold it): such a
# record does not count for the file's date range, and a file without any valid instant is
# refused (422).
MIN_EPOCH_MS = -2_208_988_800_000
MAX_EPOCH_MS = 7_258_118_400_000


@dataclass(frozen=True)
class ReadLimits:
    """Every bound on reading one file (from the upload settings)."""

    max_decoded_bytes: int
    max_records: int
    max_block_items: int = 200_000
    max_items: int = 2_000_000
    cpu_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> ReadLimits:
        return cls(
            settings.upload_max_decoded_bytes,
            settings.upload_max_records,
            settings.upload_max_block_items,
            settings.upload_max_items,
            settings.upload_cpu_seconds,
        )


def _instant(record: dict[str, Any], name: str, bad: list[str]) -> int | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, int) and MIN_EPOCH_MS <= value <= MAX_EPOCH_MS:
        return value
    if not bad:
        bad.append(f"{name} {value!r}")
    return None


def _time_bounds(record: dict[str, Any], bad: list[str]) -> tuple[int | None, int | None]:
    """The record's instants; one out of range is left out (the ETL counts that record as
    malformed) and the first such value is noted in ``bad``."""
    if "timeEpochMillis" in record:
        t = _instant(record, "timeEpochMillis", bad)
        return t, t
    return _instant(record, "startTimeEpochMillis", bad), _instant(
        record, "endTimeEpochMillis", bad
    )


def read_records(data: bytes, limits: ReadLimits) -> tuple[str, CheckedSchema, Iterator[Any]]:
    """Open a container file: its codec, its checked writer schema and an iterator of its
    records (in our schema's shape). Every block is bounded before it is decoded: its size
    against the file, its decompressed size against the budget, its record count against its
    bytes, and its array/map item counts (scanned, unless the schema is ours and the block
    too small to hold more items than a record may: every item takes at least the schema's
    smallest item width; then the file's items are counted record by record).
    One CPU budget covers the whole file.
    Raises :class:`AvroFileError`, also while iterating."""
    if not data:
        raise AvroFileError("empty file", reason="empty")
    cur = _Cursor(memoryview(data))
    meta, sync = _read_header(cur)
    codec = meta.get("avro.codec", b"null").decode("ascii", "replace") or "null"
    if codec not in SUPPORTED_CODECS:
        raise AvroFileError(f"unsupported codec {codec!r}", reason="codec")
    checked = _writer_schema(meta)
    return codec, checked, _records(data, cur, sync, codec, checked, limits)


def _records(
    data: bytes, cur: _Cursor, sync: bytes, codec: str, checked: CheckedSchema, limits: ReadLimits
) -> Iterator[Any]:
    scan = Scan(Limits(limits.max_block_items, limits.max_items, limits.cpu_seconds))
    width = checked.min_item_width
    scanner: ScanFn | None = None
    decoded, total = 0, 0
    while cur.pos < len(data):
        count = cur.read_long()
        size = cur.read_long()
        if count <= 0 or size <= 0:
            raise AvroFileError("corrupt block header", reason="corrupt")
        if cur.pos + size + SYNC_SIZE > len(data):
            raise AvroFileError("truncated file", reason="truncated")
        block = cur.read_bytes(size)
        if cur.read_bytes(SYNC_SIZE) != sync:
            raise AvroFileError("sync marker mismatch (corrupt block)", reason="corrupt")

        def check_prefix(head: bytes, count: int = count) -> None:
            nonlocal scanner
            scanner = scanner or compile_scanner(checked.canonical, width)
            try:
                scan.prefix(head, count, scanner)
            except ScanRefused as exc:
                raise AvroFileError(str(exc), status_code=422, reason="unbounded") from exc

        payload = _decompress(codec, block, limits.max_decoded_bytes - decoded, check_prefix)
        decoded += len(payload)
        if count > len(payload):
            raise AvroFileError("block claims more records than it has bytes", reason="corrupt")
        total += count
        if total > limits.max_records:
            raise AvroFileError(
                f"more than {limits.max_records} records", status_code=413, reason="too_large"
            )
        # Fast path, our own schema: every item takes at least ``width`` bytes, so a block
        # this small cannot hold more items than a block or a record may, and fastavro stops
        # at the block's end whatever count it reads (all our items hold a long, whose read
        # fails at EOF); the file's items are counted as records are decoded (our arrays are
        # top-level fields). Writer-only fields are another matter: fastavro *skips* them
        # without noticing the block's end (a count of 10^9 booleans skipped ran for 140 s),
        # so any other schema, and a larger block, is scanned before it is decoded.
        fast = checked.same_as_ours and len(payload) <= limits.max_block_items * width
        try:
            if not fast:
                if scanner is None:
                    scanner = compile_scanner(checked.canonical, width)
                scan.block(payload, count, scanner)
            else:
                scan.check_time()
        except ScanRefused as exc:
            raise AvroFileError(str(exc), status_code=422, reason="unbounded") from exc
        yield from _decode_block(payload, count, checked, scan, fast)


def _decode_block(
    payload: bytes, count: int, checked: CheckedSchema, scan: Scan, count_items: bool
) -> Iterator[Any]:
    stream = io.BytesIO(payload)
    for index in range(count):
        try:
            record = fastavro.schemaless_reader(stream, checked.parsed, checked.reader)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ...
            raise AvroFileError(
                f"corrupt record data: {type(exc).__name__}", reason="corrupt"
            ) from exc
        try:
            if count_items and isinstance(record, dict):
                scan.add_items(sum(len(v) for v in record.values() if isinstance(v, list)))
            if index & 15 == 15:
                scan.check_time()
        except ScanRefused as exc:
            raise AvroFileError(str(exc), status_code=422, reason="unbounded") from exc
        yield record
    if stream.tell() != len(payload):
        raise AvroFileError("block has trailing bytes (corrupt block)", reason="corrupt")


def inspect_file(
    data: bytes,
    *,
    max_decoded_bytes: int,
    max_records: int,
    limits: ReadLimits | None = None,
) -> FileSummary:
    """Validate a whole container file and summarise it. Raises :class:`AvroFileError`."""
    limits = limits or ReadLimits(max_decoded_bytes, max_records)
    codec, checked, records = read_records(data, limits)
    total = 0
    start: int | None = None
    end: int | None = None
    bad: list[str] = []
    for record in records:
        if not isinstance(record, dict):
            raise AvroFileError("record is not an object", reason="corrupt")
        total += 1
        lo, hi = _time_bounds(record, bad)
        if lo is not None and (start is None or lo < start):
            start = lo
        if hi is not None and (end is None or hi > end):
            end = hi
    if total == 0:
        raise AvroFileError("file contains no records", reason="empty")
    if start is None and end is None and bad:
        raise AvroFileError(
            f"no record has an instant between 1900 and 2200 (epoch milliseconds): {bad[0]}",
            status_code=422,
            reason="out_of_range",
        )
    return FileSummary(checked.record_type, total, codec, start, end, checked.canonical)
