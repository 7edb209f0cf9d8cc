"""Hostile-but-valid Avro container files, written byte by byte (fastavro refuses to write
most of them): zero-width items, huge block counts, deep nesting, recursive named types,
unions, extreme logical values, and the two files of issue 17. Every file is a well-formed
container: magic, metadata map, sync marker, blocks; what makes it hostile is its schema or
the counts it declares."""

from __future__ import annotations

import copy
import io
import json
import random
import zlib
from collections.abc import Callable
from typing import Any

import fastavro

from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_records

SYNC = bytes(range(16))


def zz(n: int) -> bytes:
    """An Avro ``long`` (zig-zag varint); any size (2^62 included)."""
    n = (n << 1) ^ (n >> 63) if -(2**63) <= n < 2**63 else n << 1
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def avro_string(text: bytes) -> bytes:
    return zz(len(text)) + text


def container(
    schema: bytes | str | dict[str, Any],
    blocks: list[tuple[int, bytes]],
    *,
    codec: str | None = "null",
) -> bytes:
    """A container file with this schema text and these (record count, payload) blocks."""
    text = (
        schema
        if isinstance(schema, bytes)
        else (schema.encode() if isinstance(schema, str) else json.dumps(schema).encode())
    )
    meta = avro_string(b"avro.schema") + avro_string(text)
    if codec is not None:
        meta += avro_string(b"avro.codec") + avro_string(codec.encode())
    out = b"Obj\x01" + zz(1 if codec is None else 2) + meta + zz(0) + SYNC
    for count, payload in blocks:
        if codec == "deflate":
            squeezer = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = squeezer.compress(payload) + squeezer.flush()
        out += zz(count) + zz(len(payload)) + payload + SYNC
    return out


def ours(record_type: str) -> dict[str, Any]:
    return copy.deepcopy(record_types()[record_type].schema)


def encode(schema: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    """The records' binary encoding (no container), with fastavro."""
    parsed = fastavro.parse_schema(copy.deepcopy(schema))
    buf = io.BytesIO()
    for record in records:
        fastavro.schemaless_writer(buf, parsed, record)
    return buf.getvalue()


def steps_with_extra_field(field_type: Any, value_bytes: bytes, records: int = 1) -> bytes:
    """StepsRecord whose writer adds a last field (Avro resolution skips it on read)."""
    schema = ours("StepsRecord")
    rows = [encode(schema, [r]) for r in synthetic_records("StepsRecord", records)]
    schema["fields"].append({"name": "padding", "type": "__PADDING__"})
    raw = (
        field_type
        if isinstance(field_type, str) and field_type.startswith("{")
        else (json.dumps(field_type))
    )
    text = json.dumps(schema).replace('"__PADDING__"', raw)
    return container(text, [(records, b"".join(r + value_bytes for r in rows))])


# --- the two files of issue 17 ----------------------------------------------------------------


def zero_size_fixed_metadata() -> bytes:
    """285 bytes: ``metadata`` is an array of zero-size ``fixed`` with a block count of 2^62
    (the block is decoded forever with no bytes consumed)."""
    schema = {
        "type": "record",
        "name": "io.github.hitoshura25.healthsyncapp.data.avro.AvroStepsRecord",
        "fields": [
            {
                "name": "metadata",
                "type": {"type": "array", "items": {"type": "fixed", "name": "Z", "size": 0}},
            }
        ],
    }
    text = json.dumps(schema, separators=(",", ":")).encode()
    block = [(1, zz(2**62) + zz(0))]
    pad = 285 - len(container(text, block, codec=None))
    assert pad >= 0, pad
    text = text[:-1] + b" " * pad + text[-1:]  # JSON whitespace: exactly 285 bytes
    data = container(text, block, codec=None)
    assert len(data) == 285
    return data


def deflated_booleans(items: int = 120_000_000) -> bytes:
    """~122 KB deflated: one StepsRecord whose writer adds ``array<boolean>`` of 120 M items."""
    return _deflated_booleans(items, ours("StepsRecord"))


def _deflated_booleans(items: int, schema: dict[str, Any]) -> bytes:
    head = encode(schema, synthetic_records("StepsRecord", 1))
    schema["fields"].append({"name": "flags", "type": {"type": "array", "items": "boolean"}})
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [squeezer.compress(head + zz(items))]
    zeros = bytes(1 << 20)
    left = items
    while left:
        chunk = min(left, len(zeros))
        parts.append(squeezer.compress(zeros[:chunk]))
        left -= chunk
    parts.append(squeezer.compress(zz(0)) + squeezer.flush())
    payload = b"".join(parts)
    meta = avro_string(b"avro.schema") + avro_string(json.dumps(schema).encode())
    meta += avro_string(b"avro.codec") + avro_string(b"deflate")
    return b"Obj\x01" + zz(2) + meta + zz(0) + SYNC + zz(1) + zz(len(payload)) + payload + SYNC


# --- a generator of hostile-but-valid schemas and payloads -------------------------------------


def _nested(depth: int, leaf: str) -> str:
    """A schema text of ``depth`` nested arrays (too deep for ``json.dumps``)."""
    return '{"type": "array", "items": ' * depth + json.dumps(leaf) + "}" * depth


def _recursive() -> bytes:
    node = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}],
    }
    return steps_with_extra_field(node, b"\x02" * 200_000 + b"\x00")


def _union_of_zero_width() -> bytes:
    union = ["null", {"type": "fixed", "name": "Nothing", "size": 0}]
    return steps_with_extra_field({"type": "map", "values": union}, zz(2**62) + zz(0))


def _exponential_records() -> bytes:
    """T0 = {a: long}; T(n) = {a: T(n-1), b: T(n-1)}, each defined in a field of its own
    (shallow JSON): one T40 is 2^40 values."""
    types: list[Any] = [{"type": "record", "name": "T0", "fields": [{"name": "a", "type": "long"}]}]
    for n in range(1, 41):
        types.append(
            {
                "type": "record",
                "name": f"T{n}",
                "fields": [{"name": "a", "type": f"T{n - 1}"}, {"name": "b", "type": f"T{n - 1}"}],
            }
        )
    wrapper = {
        "type": "record",
        "name": "Defs",
        "fields": [{"name": f"d{n}", "type": t} for n, t in enumerate(types)],
    }
    return steps_with_extra_field(wrapper, b"\x00" * 64)


def _huge_counts(rng: random.Random) -> bytes:
    items = rng.choice(["long", "boolean", "string", "null", {"type": "array", "items": "long"}])
    count = rng.choice([2**62, 2**40, 10**9, 5_000_000])
    return steps_with_extra_field({"type": "array", "items": items}, zz(count) + b"\x00" * 64)


def _negative_block_sizes(rng: random.Random) -> bytes:
    """Negative counts carry a byte size: lie about it."""
    count = rng.choice([-(2**62), -(10**9), -(2**63)])
    return steps_with_extra_field(
        {"type": "map", "values": "long"},
        zz(count) + zz(rng.choice([0, 1, -5, 2**62])) + b"\x00" * 32,
    )


def _extreme_times(rng: random.Random, spoil: int = 2) -> bytes:
    """BloodGlucose records whose ``timeEpochMillis`` are far outside any calendar."""
    records = synthetic_records("BloodGlucoseRecord", 2)
    for record in rng.sample(records, spoil):
        record["timeEpochMillis"] = rng.choice(
            [2**62, -(2**62), 2**63 - 1, -(2**63), 10**16, -(10**15)]
        )
    return container(ours("BloodGlucoseRecord"), [(2, encode(ours("BloodGlucoseRecord"), records))])


def _time_as_string() -> bytes:
    schema = ours("BloodGlucoseRecord")
    for field in schema["fields"]:
        if field["name"] == "timeEpochMillis":
            field["type"] = "string"
    records = synthetic_records("BloodGlucoseRecord", 1)
    records[0]["timeEpochMillis"] = "2026-12-06T08:00:00Z"
    return container(schema, [(1, encode(schema, records))])


def _logical_extremes(rng: random.Random) -> bytes:
    logical = rng.choice(
        [
            {"type": "long", "logicalType": "timestamp-millis"},
            {"type": "long", "logicalType": "timestamp-micros"},
            {"type": "int", "logicalType": "date"},
            {"type": "bytes", "logicalType": "decimal", "precision": 4000, "scale": 2000},
        ]
    )
    raw = (
        zz(rng.choice([2**62, -(2**62), 2**31 - 1]))
        if logical["type"] != "bytes"
        else (zz(4000) + b"\xff" * 4000)
    )
    return steps_with_extra_field(logical, raw)


HOSTILE: dict[str, Callable[[random.Random], bytes]] = {
    "zero-size fixed metadata (issue 17)": lambda rng: zero_size_fixed_metadata(),
    "120M deflated booleans (issue 17)": lambda rng: deflated_booleans(),
    "array of zero-size fixed": lambda rng: steps_with_extra_field(
        {"type": "array", "items": {"type": "fixed", "name": "F0", "size": 0}}, zz(2**62) + b"\0"
    ),
    "array of null": lambda rng: steps_with_extra_field(
        {"type": "array", "items": "null"}, zz(2**62) + zz(0)
    ),
    "array of empty records": lambda rng: steps_with_extra_field(
        {"type": "array", "items": {"type": "record", "name": "E", "fields": []}}, zz(2**62) + zz(0)
    ),
    "map of zero-width union": lambda rng: _union_of_zero_width(),
    "huge counts": _huge_counts,
    "10^9 booleans in a small block of a skipped field": lambda rng: steps_with_extra_field(
        {"type": "array", "items": "boolean"}, zz(10**9) + bytes(64)
    ),
    "negative block sizes": _negative_block_sizes,
    "nesting 200 arrays": lambda rng: steps_with_extra_field(_nested(200, "long"), zz(1) * 200),
    "nesting 2000 arrays": lambda rng: steps_with_extra_field(_nested(2000, "long"), b"\x00"),
    "recursive named type": lambda rng: _recursive(),
    "2^40 values in one record": lambda rng: _exponential_records(),
    "extreme timeEpochMillis": _extreme_times,
    "timeEpochMillis as string": lambda rng: _time_as_string(),
    "schema of 100000 [": lambda rng: container(b"[" * 100_000, [(1, b"\x00")]),
}
# Valid files with odd but harmless parts (fields Avro resolution skips): accepted or refused,
# never a server error.
ODD: dict[str, Callable[[random.Random], bytes]] = {
    "extreme logical values": _logical_extremes,
    "one extreme timeEpochMillis among good ones": lambda rng: _extreme_times(rng, 1),
}
