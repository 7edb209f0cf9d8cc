"""compute_day as a whole: all 31 record types, JSON output, registry and docs in sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healthplatform.etl.metrics import (
    DEFINITIONS,
    DEFINITIONS_VERSION,
    DOMAINS,
    SUMMARY_KEYS,
    compute_day,
    definitions_markdown,
)
from healthplatform.healthconnect.observations import Observation, from_record
from healthplatform.healthconnect.registry import record_types
from healthplatform.healthconnect.synth import synthetic_records
from tests.unit.etl.helpers import DAY, at, cgm, hr_record, sleep

ROOT = Path(__file__).resolve().parents[3]
START_MS = 1_758_400_000_000  # 2025-09-20 15:26:40 at -05:00, the synthetic offset


def synthetic(record_type: str, n: int = 30, seed: int = 1) -> list[Observation]:
    return [from_record(record_type, r)
            for r in synthetic_records(record_type, n, start_ms=START_MS, seed=seed)]  # fmt: skip


def all_types() -> list[Observation]:
    return [o for t in sorted(record_types()) for o in synthetic(t)]


def test_summary_keys_cover_the_31_types() -> None:
    assert set(SUMMARY_KEYS) == set(record_types())
    assert len(SUMMARY_KEYS) == 31
    assert {domain for domain, _ in SUMMARY_KEYS.values()} == set(DOMAINS)


@pytest.mark.parametrize("record_type", sorted(record_types()))
def test_every_record_type_has_a_daily_summary(record_type: str) -> None:
    observations = synthetic(record_type)
    day = observations[0].local_end.date()
    out = compute_day(observations, day)
    domain, key = SUMMARY_KEYS[record_type]
    assert out[domain][key], f"{record_type}: no {domain}.{key} in {sorted(out)}"
    assert out[domain]["coverage"]["records"][record_type] > 0
    assert out[domain]["status"] in ("ok", "insufficient data")
    json.dumps(out, allow_nan=False)


def test_only_domains_with_data() -> None:
    assert compute_day([], DAY) == {}
    out = compute_day(synthetic("StepsRecord"), synthetic("StepsRecord")[0].local_date)
    assert list(out) == ["activity"]


def _paths(node: dict[str, Any], prefix: str) -> list[str]:
    paths = []
    for key, value in node.items():
        path = f"{prefix}.{key}"
        paths += _paths(value, path) if isinstance(value, dict) else [path]
    return paths


def _rich_day() -> dict[str, Any]:
    """A day where every domain reaches status ok, plus all types together."""
    values = [100.0 + (i % 12) * 10 for i in range(288)]
    hr = [hr_record(at(DAY, h), [60.0 + (m % 50) for m in range(60)]) for h in range(24)]
    night = sleep(at(DAY, -1), [(10, "AWAKE"), (300, "LIGHT"), (5, "AWAKE"), (100, "REM")])
    out = compute_day([*cgm(DAY, values), *hr, night], DAY, hrv_previous=[30, 31, 32])
    return out


def test_every_output_metric_is_defined() -> None:
    outputs = [_rich_day()]
    observations = all_types()
    outputs.append(compute_day(observations, observations[0].local_date, height_m=1.7))
    for out in outputs:
        for domain, result in out.items():
            for path in _paths(result, domain):
                parts = path.split(".")
                if parts[1] in ("status", "reason", "coverage"):
                    continue
                prefixes = {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
                assert prefixes & set(DEFINITIONS), f"{path} has no definition"


def test_definitions_are_complete() -> None:
    for item in DEFINITIONS.values():
        assert item.unit and item.definition and item.citation, item.name
    assert "Battelino" in DEFINITIONS["glucose.tir_70_180_pct"].citation
    assert "Lancet Diabetes Endocrinol 2023" in DEFINITIONS["glucose.low_episodes"].citation
    assert "Fekedulegn" in DEFINITIONS["sleep.main.awakenings"].citation
    assert "Whelton" in DEFINITIONS["vitals.blood_pressure"].citation


def test_docs_table_matches_the_registry() -> None:
    docs = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert definitions_markdown() in docs, "regenerate the table in docs/metrics.md"
    assert DEFINITIONS_VERSION in docs


def test_rich_day_is_ok_everywhere() -> None:
    out = _rich_day()
    assert {k: v["status"] for k, v in out.items()} == {
        "glucose": "ok", "heart": "ok", "sleep": "ok",
    }  # fmt: skip
    json.dumps(out, allow_nan=False)
