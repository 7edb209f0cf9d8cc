"""Bounded, whole-file validation of Avro Object Container Files.

The container framing (header, blocks, sync markers) is parsed here so that every limit is
checked *before* work is done: block sizes against the file, decompressed sizes against
``max_decoded_bytes`` (a deflate bomb stops at the limit), record counts against the block
size. Records are decoded with the file's own writer schema by fastavro. Every failure is an
:class:`AvroFileError` carrying the HTTP status that describes it.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastavro

from healthplatform.healthconnect.registry import record_type_from_schema_name

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


def _has_zero_width_repeat(schema: Any, named: dict[str, Any], seen: set[str]) -> bool:
    """True when an array/map repeats a type that occupies no bytes (an endless loop risk)."""

    def zero_width(t: Any, depth: int = 0) -> bool:
        if depth > 50:
            return False
        if t == "null":
            return True
        if isinstance(t, str):
            resolved = named.get(t)
            return resolved is not None and zero_width(resolved, depth + 1)
        if isinstance(t, dict) and t.get("type") == "record":
            return all(zero_width(f.get("type"), depth + 1) for f in t.get("fields", []))
        return False

    def walk(t: Any) -> bool:
        if isinstance(t, list):
            return any(walk(x) for x in t)
        if not isinstance(t, dict):
            return False
        kind = t.get("type")
        if kind in ("record", "enum", "fixed") and isinstance(t.get("name"), str):
            if t["name"] in seen:
                return False
            seen.add(t["name"])
            named[t["name"]] = t
        if kind == "record":
            return any(walk(f.get("type")) for f in t.get("fields", []))
        if kind == "array":
            return zero_width(t.get("items")) or walk(t.get("items"))
        if kind == "map":
            return walk(t.get("values"))
        return walk(kind) if isinstance(kind, dict | list) else False

    return walk(schema)


def _parse_writer_schema(meta: dict[str, bytes]) -> tuple[dict[str, Any], str, Any]:
    raw = meta.get("avro.schema")
    if raw is None:
        raise AvroFileError("header has no avro.schema", reason="corrupt")
    return _parse_schema_text(bytes(raw))


@lru_cache(maxsize=64)
def _parse_schema_text(raw: bytes) -> tuple[dict[str, Any], str, Any]:
    """Checked and parsed writer schema. Cached by its text: a phone writes the same
    schema into every file of a record type, and parsing it costs more than reading a
    typical daily file's records. Only accepted schemas are cached (errors raise), at most
    64, each bounded by the header size limit. Callers must not mutate the result."""
    try:
        schema = json.loads(raw)
    except ValueError as exc:
        raise AvroFileError("header schema is not JSON", reason="corrupt") from exc
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise AvroFileError(
            "writer schema is not a record", status_code=422, reason="unsupported_type"
        )
    name = str(schema.get("name", ""))
    full_name = name if "." in name else f"{schema.get('namespace', '')}.{name}"
    record_type = record_type_from_schema_name(full_name)
    if record_type is None:
        raise AvroFileError(
            f"unsupported record type {full_name!r}: expected one of the 31 Health Connect "
            "types in namespace io.github.hitoshura25.healthsyncapp.data.avro",
            status_code=422,
            reason="unsupported_type",
        )
    if not any(f.get("name") == "metadata" for f in schema.get("fields", [])):
        raise AvroFileError(
            "writer schema has no metadata field", status_code=422, reason="unsupported_type"
        )
    if _has_zero_width_repeat(schema, {}, set()):
        raise AvroFileError(
            "writer schema repeats an empty type", status_code=422, reason="unsupported_type"
        )
    try:
        parsed = fastavro.parse_schema(schema)
    except Exception as exc:  # fastavro raises several types for bad schemas
        raise AvroFileError(
            f"invalid writer schema: {exc}", status_code=422, reason="unsupported_type"
        ) from exc
    return schema, record_type, parsed


def _decompress(codec: str, block: bytes, budget: int) -> bytes:
    if codec == "null":
        data = block
    elif codec == "deflate":
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(block, budget + 1)
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


def _time_bounds(record: dict[str, Any]) -> tuple[int | None, int | None]:
    if "timeEpochMillis" in record:
        t = record["timeEpochMillis"]
        return t, t
    return record.get("startTimeEpochMillis"), record.get("endTimeEpochMillis")


def inspect_file(data: bytes, *, max_decoded_bytes: int, max_records: int) -> FileSummary:
    """Validate a whole container file and summarise it. Raises :class:`AvroFileError`."""
    if not data:
        raise AvroFileError("empty file", reason="empty")
    cur = _Cursor(memoryview(data))
    meta, sync = _read_header(cur)
    codec = meta.get("avro.codec", b"null").decode("ascii", "replace") or "null"
    if codec not in SUPPORTED_CODECS:
        raise AvroFileError(f"unsupported codec {codec!r}", reason="codec")
    schema, record_type, parsed = _parse_writer_schema(meta)

    decoded_budget = max_decoded_bytes
    total = 0
    start: int | None = None
    end: int | None = None
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
        payload = _decompress(codec, block, decoded_budget)
        decoded_budget -= len(payload)
        if count > len(payload):
            raise AvroFileError("block claims more records than it has bytes", reason="corrupt")
        total += count
        if total > max_records:
            raise AvroFileError(
                f"more than {max_records} records", status_code=413, reason="too_large"
            )
        stream = io.BytesIO(payload)
        try:
            for _ in range(count):
                record = fastavro.schemaless_reader(stream, parsed, None)
                if not isinstance(record, dict):
                    raise AvroFileError("record is not an object", reason="corrupt")
                lo, hi = _time_bounds(record)
                if lo is not None and (start is None or lo < start):
                    start = lo
                if hi is not None and (end is None or hi > end):
                    end = hi
        except AvroFileError:
            raise
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ...
            raise AvroFileError(
                f"corrupt record data: {type(exc).__name__}", reason="corrupt"
            ) from exc
        if stream.tell() != len(payload):
            raise AvroFileError("block has trailing bytes (corrupt block)", reason="corrupt")
    if total == 0:
        raise AvroFileError("file contains no records", reason="empty")
    return FileSummary(record_type, total, codec, start, end, schema)
