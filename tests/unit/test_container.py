"""Avro container validation: real files, synthetic files of all 31 types, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthplatform.healthconnect.container import AvroFileError, inspect_file
from healthplatform.healthconnect.registry import record_type_from_schema_name, record_types
from healthplatform.healthconnect.synth import synthetic_file
from tests.conftest import SAMPLES as _SAMPLES_DIR
from tests.conftest import SAMPLES_ERROR

LIMITS = {"max_decoded_bytes": 64 * 1024 * 1024, "max_records": 100_000}

SAMPLES = sorted(_SAMPLES_DIR.glob("*.avro"))


def test_the_real_samples_are_there() -> None:
    assert SAMPLES, SAMPLES_ERROR or f"no sample files in {_SAMPLES_DIR}"


def test_there_are_31_record_types() -> None:
    assert len(record_types()) == 31
    assert (
        record_type_from_schema_name(
            "io.github.hitoshura25.healthsyncapp.data.avro.AvroStepsRecord"
        )
        == "StepsRecord"
    )
    assert record_type_from_schema_name("com.evil.AvroStepsRecord") is None


def test_real_samples_summaries(samples: list[Path]) -> None:
    expected_counts = {
        "BloodGlucoseRecord_1758407139312.avro": 253,
        "HeartRateRecord_1758494067274.avro": 73,
        "SleepSessionRecord_1758407139312.avro": 2,
    }
    for path in samples:
        summary = inspect_file(path.read_bytes(), **LIMITS)
        assert summary.record_type == path.name.split("_")[0]
        assert summary.codec == "null"
        assert summary.data_start_ms is not None and summary.data_end_ms is not None
        assert summary.data_start_ms <= summary.data_end_ms
        if path.name in expected_counts:
            assert summary.record_count == expected_counts[path.name]


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
@pytest.mark.parametrize("record_type", sorted(record_types()))
def test_synthetic_files_of_every_type(record_type: str, codec: str) -> None:
    summary = inspect_file(synthetic_file(record_type, 300, codec=codec), **LIMITS)
    assert (summary.record_type, summary.record_count, summary.codec) == (record_type, 300, codec)


def test_record_limit() -> None:
    with pytest.raises(AvroFileError) as err:
        inspect_file(synthetic_file("StepsRecord", 50), max_decoded_bytes=10**8, max_records=10)
    assert err.value.status_code == 413


def test_decoded_size_limit_counts_across_blocks() -> None:
    data = synthetic_file("HeartRateRecord", 2000, codec="deflate")
    with pytest.raises(AvroFileError) as err:
        inspect_file(data, max_decoded_bytes=20_000, max_records=10**6)
    assert err.value.status_code == 413


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_files_never_crash(data: st.DataObject) -> None:
    """Flip, insert, delete and truncate bytes of real files: the only possible outcomes
    are a summary or an AvroFileError with a 4xx status."""
    original = bytearray(data.draw(st.sampled_from(SAMPLES)).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = data.draw(st.integers(0, max(0, len(original) - 1)))
        if op == "flip" and original:
            original[pos] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            original[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del original[pos : pos + data.draw(st.integers(1, 64))]
        else:
            del original[pos:]
    try:
        inspect_file(bytes(original), **LIMITS)
    except AvroFileError as exc:
        assert 400 <= exc.status_code < 500


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash(blob: bytes) -> None:
    try:
        inspect_file(b"Obj\x01" + blob, **LIMITS)
    except AvroFileError as exc:
        assert 400 <= exc.status_code < 500
