"""Writer schemas accepted by Avro resolution against ours, and the bounded block scanner."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from healthplatform.healthconnect.container import AvroFileError, ReadLimits, inspect_file
from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_records
from healthplatform.healthconnect.writer_schema import SchemaRefused, check_writer_schema
from tests.support.hostile_avro import HOSTILE, container, encode, ours, zz

LIMITS = {"max_decoded_bytes": 128 << 20, "max_records": 200_000}


def text(schema: dict[str, Any]) -> bytes:
    return json.dumps(schema).encode()


@pytest.mark.parametrize("record_type", sorted(record_types()))
def test_our_schemas_are_accepted_on_the_fast_path(record_type: str) -> None:
    checked = check_writer_schema(text(ours(record_type)))
    assert checked.same_as_ours and checked.reader is None
    assert checked.record_type == record_type


def test_attributes_do_not_leave_the_fast_path_but_logical_types_are_not_applied() -> None:
    schema = ours("BloodGlucoseRecord")
    for field in schema["fields"]:
        if field["name"] == "timeEpochMillis":
            field["type"] = {"type": "long", "logicalType": "timestamp-millis"}
            field["doc"] = "when"
    checked = check_writer_schema(text(schema))
    assert checked.same_as_ours  # Parsing Canonical Form drops logicalType and doc
    records = synthetic_records("BloodGlucoseRecord", 3)
    summary = inspect_file(
        container(schema, [(3, encode(ours("BloodGlucoseRecord"), records))]), **LIMITS
    )
    assert summary.data_start_ms == min(r["timeEpochMillis"] for r in records)


def test_resolution_allows_reordering_promotion_defaults_and_added_fields() -> None:
    schema = ours("StepsRecord")
    fields = {f["name"]: f for f in schema["fields"]}
    fields["count"]["type"] = "int"  # int -> long
    fields["startZoneOffsetId"]["type"] = "null"  # one branch of our union
    del fields["endZoneOffsetId"]  # ours has a default
    fields["extra"] = {"name": "extra", "type": {"type": "map", "values": "string"}}
    schema["fields"] = list(reversed(fields.values()))
    checked = check_writer_schema(text(schema))
    assert not checked.same_as_ours and checked.reader is not None
    record = synthetic_records("StepsRecord", 1)[0]
    record.pop("endZoneOffsetId")
    record |= {"startZoneOffsetId": None, "extra": {"a": "b"}}
    data = container(schema, [(1, encode(schema, [record]))])
    summary = inspect_file(data, **LIMITS)
    assert summary.record_count == 1 and summary.record_type == "StepsRecord"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f.pop("count"), "count: missing"),
        (lambda f: f["count"].update(type="string"), "count: the file's type string"),
        (lambda f: f["count"].update(type="double"), "cannot be read as long"),
        (lambda f: f["count"].update(type=["null", "long"]), "null cannot be read as long"),
        (lambda f: f["metadata"].update(type={"type": "array", "items": "long"}), "metadata"),
        (lambda f: f["metadata"]["type"].update(name="AvroOther"), "AvroOther is not"),
    ],
)
def test_schemas_that_do_not_resolve_are_refused_with_the_reason(change: Any, reason: str) -> None:
    schema = ours("StepsRecord")
    fields = {f["name"]: f for f in schema["fields"]}
    change(fields)
    schema["fields"] = list(fields.values())
    with pytest.raises(SchemaRefused, match=reason.replace("[", r"\[")):
        check_writer_schema(text(schema))


def test_enum_symbols_must_be_ours() -> None:
    schema = ours("ExerciseSessionRecord")
    enums = [m for m in _walk(schema) if isinstance(m, dict) and m.get("type") == "enum"]
    if not enums:
        pytest.fail("no enum in ExerciseSessionRecord: pick another record type")
    enums[0]["symbols"] = [*enums[0]["symbols"], "TELEPORTING"]
    with pytest.raises(SchemaRefused, match="unknown symbols"):
        check_writer_schema(text(schema))


def _walk(node: Any) -> list[Any]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, dict):
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_refused_in_a_second(case: str) -> None:
    started = time.thread_time()
    with pytest.raises(AvroFileError) as caught:
        inspect_file(HOSTILE[case](random.Random(case)), **LIMITS)
    assert caught.value.status_code in (400, 413, 422)
    assert time.thread_time() - started < 1.0


def test_a_block_count_of_2_to_62_is_refused_when_read() -> None:
    schema = ours("StepsRecord")
    head = encode(schema, synthetic_records("StepsRecord", 1))
    schema["fields"].append({"name": "x", "type": {"type": "array", "items": "long"}})
    with pytest.raises(AvroFileError, match="4611686018427387904 items"):
        inspect_file(container(schema, [(1, head + zz(2**62))]), **LIMITS)


def test_our_schema_with_a_count_of_2_to_62_ends_at_the_block_end() -> None:
    """The fast path (our schema, a small block: not scanned) still ends at once."""
    schema = ours("HeartRateRecord")
    record = synthetic_records("HeartRateRecord", 1)[0] | {"samples": []}
    payload = encode(schema, [record])[:-1] + zz(2**62) + b"\x02\x02" * 100
    started = time.thread_time()
    with pytest.raises(AvroFileError, match="corrupt"):
        inspect_file(container(schema, [(1, payload)]), **LIMITS)
    assert time.thread_time() - started < 0.1


def _extra_longs(records: int, items: int) -> bytes:
    schema = ours("StepsRecord")
    rows = [encode(schema, [r]) for r in synthetic_records("StepsRecord", records)]
    schema["fields"].append({"name": "x", "type": {"type": "array", "items": "long"}})
    return container(
        schema, [(records, b"".join(r + zz(items) + bytes(items) + zz(0) for r in rows))]
    )


def test_item_caps_per_block_record_and_file() -> None:
    limits = ReadLimits(128 << 20, 1000, max_block_items=100, max_items=250, cpu_seconds=5)
    inspect_file(_extra_longs(2, 100), **LIMITS, limits=limits)
    with pytest.raises(AvroFileError, match="block of 101 items"):
        inspect_file(_extra_longs(1, 101), **LIMITS, limits=limits)
    with pytest.raises(AvroFileError, match="more than 250"):
        inspect_file(_extra_longs(3, 100), **LIMITS, limits=limits)


def test_the_cpu_budget_stops_a_long_read() -> None:
    data = _extra_longs(10, 200_000)
    started = time.thread_time()
    with pytest.raises(AvroFileError, match="CPU") as caught:
        inspect_file(data, **LIMITS, limits=ReadLimits(128 << 20, 1000, cpu_seconds=0.05))
    assert caught.value.status_code == 422
    assert time.thread_time() - started < 0.5


@pytest.mark.parametrize("value", [2**62, -(2**62), 10**16])
def test_a_file_without_any_valid_instant_is_refused(value: int) -> None:
    records = [r | {"timeEpochMillis": value} for r in synthetic_records("WeightRecord", 2)]
    data = container(ours("WeightRecord"), [(2, encode(ours("WeightRecord"), records))])
    with pytest.raises(AvroFileError, match="timeEpochMillis") as caught:
        inspect_file(data, **LIMITS)
    assert caught.value.status_code == 422


def test_the_file_item_cap_counts_exactly_on_the_fast_path() -> None:
    import io

    import fastavro

    from healthplatform.healthconnect.synth import synthetic_file

    data = synthetic_file("HeartRateRecord", 20_000, codec="deflate")
    items = sum(len(r["samples"]) for r in fastavro.reader(io.BytesIO(data)))  # type: ignore[arg-type,index]
    assert items > 20_000
    inspect_file(data, **LIMITS, limits=ReadLimits(128 << 20, 200_000, max_items=items))
    with pytest.raises(AvroFileError, match=f"more than {items - 1}"):
        inspect_file(data, **LIMITS, limits=ReadLimits(128 << 20, 200_000, max_items=items - 1))


def test_a_limit_broken_early_in_a_large_deflate_block_is_refused_before_inflating() -> None:
    """120 M booleans deflate to 122 KB; refusing them used to inflate 120 MB first."""
    import tracemalloc

    data = HOSTILE["120M deflated booleans (issue 17)"](random.Random(0))
    tracemalloc.start()
    try:
        with pytest.raises(AvroFileError, match="120000000 items") as caught:
            inspect_file(data, **LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.status_code == 422
    assert peak < 8 << 20, f"peak {peak / 2**20:.0f} MiB"
