"""Decode a stored upload into observations (CPU work: runs in a worker thread)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from healthplatform.healthconnect.container import AvroFileError, ReadLimits, read_records
from healthplatform.healthconnect.observations import (
    MalformedRecord,
    Observation,
    from_record,
    is_newer,
)


@dataclass
class Decoded:
    """Observations of one file, deduplicated within the file, and what was skipped."""

    observations: list[Observation]
    total: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "records": self.total,
            "valid": len(self.observations),
            "malformed": self.malformed,
            "errors": self.errors[:5],
        }


def decode_file(data: bytes, record_type: str, limits: ReadLimits) -> Decoded:
    """Decode with the file's writer schema, resolved to ours, under the same bounds as the
    upload's validation (schema check, item caps, CPU budget: a stored file is read no
    more trustingly than an uploaded one); malformed records are counted, not fatal.
    Raises :class:`AvroFileError` for a file that breaks a bound.

    Records are not placed yet (``etl.zones`` does that with the person's zone)."""
    _, checked, reader = read_records(data, limits)
    if checked.record_type != record_type:
        raise AvroFileError(f"the file holds {checked.record_type}, not {record_type}")
    newest: dict[str, Observation] = {}
    decoded = Decoded([])
    for record in reader:
        decoded.total += 1
        try:
            if not isinstance(record, dict):
                raise MalformedRecord("record is not an object")
            obs = from_record(record_type, record)
        except (MalformedRecord, TypeError, ValueError, OverflowError) as exc:
            decoded.malformed += 1
            if len(decoded.errors) < 20:
                decoded.errors.append(f"record {decoded.total}: {exc}")
            continue
        current = newest.get(obs.hc_id)
        if current is None or is_newer(obs, current):
            newest[obs.hc_id] = obs
    decoded.observations = sorted(newest.values(), key=lambda o: (o.start_ms, o.hc_id))
    return decoded
