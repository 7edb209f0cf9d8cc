"""Training example keys: content-addressed, and parseable back to their day (the worker
lists a month once and prunes superseded versions of the days it wrote)."""

from __future__ import annotations

from datetime import date

import orjson

from healthplatform.etl.narratives import Narrative
from healthplatform.etl.narratives.render import count
from healthplatform.etl.narratives.writer import Writer
from healthplatform.etl.training import training_example
from healthplatform.storage.layout import training_day, training_month_prefix


def _narrative() -> Narrative:
    w = Writer(("2025-09-30T00:00Z", "2025-10-01T00:00Z"), {"glucose": 12}, "v1")
    w.at("statistical", "glucose").say(
        f"{w.val('glucose.readings_summary.count', 12, 'count', count('reading'))}."
    )
    w.at("structural", "day").say("No pattern.")
    w.at("semantic", "day").say("Nothing unusual.")
    return w.narrative()


def _example(metrics: dict[str, object]) -> tuple[str, bytes]:
    return training_example(
        "u" * 32,
        date(2025, 9, 30),
        metrics,
        _narrative(),
        upload_ids=["b", "a"],
        record_ids=["r2", "r1"],
        version="v1",
    )


def test_the_key_names_its_day_and_month_and_follows_the_content() -> None:
    key, body = _example({"glucose": {"mean_mg_dl": 101.5}})
    assert key.startswith(training_month_prefix("u" * 32, date(2025, 9, 30)))
    assert training_day(key) == date(2025, 9, 30)
    assert _example({"glucose": {"mean_mg_dl": 101.5}}) == (key, body)  # deterministic
    assert _example({"glucose": {"mean_mg_dl": 102.0}})[0] != key


def test_the_body_is_canonical_json_with_provenance() -> None:
    _, body = _example({"b": 1, "a": {"z": 2, "y": float("nan")}})
    example = orjson.loads(body)
    assert list(example) == sorted(example)
    assert example["metadata"]["source_upload_ids"] == ["a", "b"]
    assert example["metadata"]["record_ids"] == ["r1", "r2"]
    assert example["output"] == "12 readings.\n\nNo pattern.\n\nNothing unusual."
    statistical = example["layers"]["statistical"]
    assert statistical["text"] == "12 readings."
    assert [c["metric"] for c in statistical["claims"]] == ["glucose.readings_summary.count"]
    assert example["layers"]["semantic"] == {"text": "Nothing unusual.", "claims": []}
    assert orjson.loads(example["input"]) == {
        "date": "2025-09-30",
        "metrics": {"a": {"y": None, "z": 2}, "b": 1},  # NaN is not JSON: null
    }


def test_foreign_keys_have_no_day() -> None:
    assert training_day("training/u/notes.txt") is None
    assert training_day("training/u/2025/13/01/x.json") is None
