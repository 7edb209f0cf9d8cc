"""Training examples: one immutable, content-addressed JSON object per user and local day.

A day's example is rewritten as a *new* object when the day's data changes, and the
superseded one is deleted in the same locked unit of work, so there is never a
read-modify-write of a shared file and never two examples for one day.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import orjson

from healthplatform import __version__
from healthplatform.etl.narratives.model import LAYERS, Narrative
from healthplatform.storage.layout import training_day_prefix

INSTRUCTION = (
    "Write a cautious, non-diagnostic daily health journal entry from these measurements. "
    "State the numbers with units, then patterns, then an interpretation; say when data is "
    "insufficient."
)


def training_example(
    user_id: str,
    day: date,
    metrics: dict[str, Any],
    narrative: Narrative,
    *,
    upload_ids: list[str],
    record_ids: list[str],
    version: str,
) -> tuple[str, bytes]:
    """(object key, JSON bytes) of one example; the key is derived from the content.

    Besides the whole text (``output``), each layer of the narrative (statistical,
    structural, semantic) is addressable with the claims its numbers come from."""
    claims = {c.id: c.to_json() for c in narrative.claims}
    layers = {}
    for name in LAYERS:
        sentences = [s for s in narrative.sentences if s.layer == name]
        layers[name] = {
            "text": narrative.layer(name),
            "claims": [claims[c] for s in sentences for c in s.claims],
        }
    example = {
        "instruction": INSTRUCTION,
        "input": _json({"date": day.isoformat(), "metrics": metrics}).decode(),
        "output": narrative.text,
        "layers": layers,
        "metadata": {
            "local_date": day.isoformat(),
            "source_upload_ids": sorted(upload_ids),
            "record_ids": sorted(record_ids),
            "metric_definitions_version": version,
            "generator": f"healthplatform {__version__}",
        },
    }
    body = _json(example)
    digest = hashlib.sha256(body).hexdigest()[:32]
    return f"{training_day_prefix(user_id, day)}{digest}.json", body


def _json(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 (the key hashes these bytes)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
