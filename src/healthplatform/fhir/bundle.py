"""The FHIR R4 Bundle of a person's data, written as chunks of JSON: the observations are
read through a server-side cursor and written one entry at a time, so a year of data never
sits in memory (``make bench-fhir`` measures it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select

from healthplatform.db.models import Observation as ObservationRow
from healthplatform.etl.observation_rows import to_observation
from healthplatform.fhir.cgm import CgmSummary
from healthplatform.fhir.codes import code_system, concept_map
from healthplatform.fhir.observation import resource_id, to_fhir
from healthplatform.healthconnect.observations import Observation
from healthplatform.runtime import Resources

CHUNK_ROWS = 500  # rows per fetch from the server-side cursor
MEDIA_TYPE = "application/fhir+json"


class BundleWriter:
    """Header, one entry per resource, then the CGM summary and the footer."""

    def __init__(self, user: str, now: datetime | None = None) -> None:
        self.patient_id = resource_id("patient", user)
        self.now = now or datetime.now(UTC)
        self.cgm = CgmSummary()
        self._first = True

    def _entry(self, resource: dict[str, Any]) -> bytes:
        prefix = b"" if self._first else b",\n"
        self._first = False
        entry = {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
        return prefix + orjson.dumps(entry)

    def header(self) -> bytes:
        head = {
            "resourceType": "Bundle",
            "id": resource_id("bundle", self.patient_id, self.now.isoformat()),
            "meta": {"lastUpdated": self.now.isoformat(timespec="seconds")},
            "type": "collection",
            "timestamp": self.now.isoformat(timespec="seconds"),
        }
        start = orjson.dumps(head)[:-1] + b',"entry":[\n'
        patient = {"resourceType": "Patient", "id": self.patient_id, "active": True}
        return (
            start + self._entry(patient) + self._entry(code_system()) + self._entry(concept_map())
        )

    def observation(self, obs: Observation) -> bytes:
        self.cgm.add(obs)
        return self._entry(to_fhir(obs, self.patient_id))

    def footer(self) -> bytes:
        summary = b"".join(self._entry(r) for r in self.cgm.resources(self.patient_id))
        return summary + b"\n]}\n"


def bundle(user: str, observations: Iterable[Observation], now: datetime | None = None
           ) -> Iterator[bytes]:  # fmt: skip
    """The bundle of observations already in memory (tests, small files)."""
    writer = BundleWriter(user, now)
    yield writer.header()
    for obs in observations:
        yield writer.observation(obs)
    yield writer.footer()


async def bundle_chunks(res: Resources, user: str) -> AsyncIterator[bytes]:
    """The person's bundle from the database, streamed (about 64 KiB per chunk)."""
    writer = BundleWriter(user)
    yield writer.header()
    columns = [c for c in ObservationRow.__table__.c if c.name not in ("id", "upload_id")]
    buffer: list[bytes] = []
    size = 0
    async with res.sessions() as session:
        rows = await session.stream(
            select(*columns)
            .where(ObservationRow.user_id == user)
            .order_by(ObservationRow.record_type, ObservationRow.start_ms, ObservationRow.hc_id)
            .execution_options(yield_per=CHUNK_ROWS)
        )
        async for row in rows:
            piece = writer.observation(to_observation(row._mapping))
            buffer.append(piece)
            size += len(piece)
            if size >= 65_536:
                yield b"".join(buffer)
                buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)
    yield writer.footer()
