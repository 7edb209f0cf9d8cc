"""The 31 Health Connect record types the Android app exports, keyed by their HC class name.

The schemas shipped in ``schemas/`` are the app's wire contract; uploads are always decoded
with the writer schema embedded in the file, these are used to know the types and to make
synthetic files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

NAMESPACE = "io.github.hitoshura25.healthsyncapp.data.avro"
SCHEMA_PREFIX = "Avro"
FILENAME_PATTERN = re.compile(r"^(?P<hc_class>[A-Za-z0-9]+)_(?P<millis>\d{1,15})\.avro$")


@dataclass(frozen=True)
class RecordType:
    """One Health Connect record type (e.g. ``StepsRecord``) and its reference schema."""

    name: str
    schema: dict[str, Any]

    @property
    def is_interval(self) -> bool:
        """Interval records carry start/end times; instant records a single time."""
        return any(f["name"] == "startTimeEpochMillis" for f in self.schema["fields"])

    @property
    def full_schema_name(self) -> str:
        return f"{NAMESPACE}.{SCHEMA_PREFIX}{self.name}"


@cache
def record_types() -> dict[str, RecordType]:
    found: dict[str, RecordType] = {}
    folder = resources.files("healthplatform.healthconnect") / "schemas"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".avsc"):
            continue
        schema = json.loads(entry.read_text(encoding="utf-8"))
        name = schema["name"].removeprefix(SCHEMA_PREFIX)
        found[name] = RecordType(name=name, schema=schema)
    return found


def record_type_from_schema_name(full_name: str) -> str | None:
    """``io...avro.AvroStepsRecord`` -> ``StepsRecord``; None for another namespace or type."""
    namespace, _, short = full_name.rpartition(".")
    if namespace != NAMESPACE or not short.startswith(SCHEMA_PREFIX):
        return None
    name = short.removeprefix(SCHEMA_PREFIX)
    return name if name in record_types() else None
