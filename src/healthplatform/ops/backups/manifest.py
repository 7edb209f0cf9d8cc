"""The manifest stored next to every dump: what a restore must find in it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from healthplatform.ops.backups.store import manifest_key_for

FORMAT_PG = "pg_dump-custom"
FORMAT_SQLITE = "sqlite"
SCHEMA_VERSION = 1
_CHUNK = 1024 * 1024


class ManifestError(Exception):
    """A manifest that cannot be read: the backup is treated as broken."""


@dataclass(frozen=True)
class Manifest:
    database: str
    kind: str
    dump_key: str
    format: str  # FORMAT_PG | FORMAT_SQLITE
    sha256: str
    size_bytes: int
    row_counts: dict[str, int]
    alembic_revision: str | None
    started_at: datetime  # the snapshot the dump shows was taken at this moment
    finished_at: datetime
    dump_tool: str  # `pg_dump (PostgreSQL) 17.6`, or the SQLite library version
    server_version: str
    app_version: str
    objects_key: str | None = None  # health: the raw objects the dump references
    schema: int = field(default=SCHEMA_VERSION)

    @property
    def key(self) -> str:
        return manifest_key_for(self.dump_key)

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def to_json(self) -> bytes:
        body = asdict(self)
        body["started_at"] = self.started_at.isoformat()
        body["finished_at"] = self.finished_at.isoformat()
        return json.dumps(body, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            body: dict[str, Any] = json.loads(data)
            if body.get("schema") != SCHEMA_VERSION:
                raise ManifestError(f"unknown manifest schema {body.get('schema')!r}")
            body["started_at"] = datetime.fromisoformat(body["started_at"])
            body["finished_at"] = datetime.fromisoformat(body["finished_at"])
            body["row_counts"] = {str(k): int(v) for k, v in body["row_counts"].items()}
            return cls(**body)
        except ManifestError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ManifestError(f"malformed manifest: {exc}") from exc


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def count_differences(expected: dict[str, int], found: dict[str, int]) -> list[str]:
    """Human-readable differences between two row-count maps (empty when equal)."""
    out = []
    for name in sorted(set(expected) | set(found)):
        want, got = expected.get(name, "no table"), found.get(name, "no table")
        if want != got:
            out.append(f"{name}: expected {want}, found {got}")
    return out
