"""GET /v1/me/fhir end to end on both backends: the real sample files uploaded and
processed, the streamed Bundle validated resource by resource, read back into exactly the
stored records, the CGM summary checked against the readings, and no one else's data."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from healthplatform.core.identity import user_key
from healthplatform.db.models import Observation as ObservationRow
from healthplatform.etl.observation_rows import to_observation
from healthplatform.fhir.observation import NotOurs, from_fhir
from healthplatform.runtime import Resources
from tests.conftest import ApiClient
from tests.integration.test_etl import process_all, upload_files

pytestmark = pytest.mark.integration


async def stored(api: ApiClient, user: str) -> dict[tuple[str, str], Any]:
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    async with res.sessions() as session:
        rows = await session.execute(
            select(ObservationRow).where(ObservationRow.user_id == user_key(user))
        )
        out = {}
        for (row,) in rows:
            obs = to_observation(row.__dict__)
            out[(obs.record_type, obs.hc_id)] = obs
    return out


async def test_the_fhir_bundle_holds_every_record_unchanged(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    await upload_files(api, user, samples)
    await process_all(api, user)
    response = await api.http.get("/v1/me/fhir", headers=api.auth(user))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = orjson.loads(response.content)
    Bundle.model_validate(body)  # every entry's resource is validated with it
    resources = [e["resource"] for e in body["entry"]]
    kinds = [r["resourceType"] for r in resources]
    assert kinds[:3] == ["Patient", "CodeSystem", "ConceptMap"]

    back = {}
    summaries = []
    for resource in resources[3:]:
        try:
            obs = from_fhir(resource)
        except NotOurs:
            summaries.append(resource)
            continue
        back[(obs.record_type, obs.hc_id)] = obs
    assert back == await stored(api, user)  # none lost, none changed, none added
    assert len(back) > 700  # the deduplicated records of the sample files

    # the CGM summary, recomputed here from the readings in the bundle
    glucose = [o.fields["levelInMilligramsPerDeciliter"] for o in back.values()
               if o.record_type == "BloodGlucoseRecord"]  # fmt: skip
    by_code = {r["code"]["coding"][0]["code"]: r for r in summaries}
    assert by_code["97507-8"]["valueQuantity"]["value"] == round(statistics.fmean(glucose), 2)
    cv = 100 * statistics.stdev(glucose) / statistics.fmean(glucose)
    assert by_code["104638-2"]["valueQuantity"]["value"] == round(cv, 2)
    ranges = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
              for c in by_code["106793-3"]["component"]}  # fmt: skip
    in_range = sum(1 for g in glucose if 70 <= g <= 180)
    assert ranges["97510-2"] == round(100 * in_range / len(glucose), 2)
    assert ranges["104642-4"] == round(100 * sum(g < 54 for g in glucose) / len(glucose), 2)
    assert sum(ranges.values()) == pytest.approx(100, abs=0.05)
    assert "97506-0" not in by_code  # GMI needs 14 days; the samples hold 3
    assert by_code["104636-6"]["valueQuantity"]["value"] >= 2
    members = {m["reference"] for m in by_code["cgm-summary"]["hasMember"]}
    assert members == {
        f"Observation/{r['id']}" for r in summaries if r is not by_code["cgm-summary"]
    }


async def test_the_bundle_holds_only_the_callers_data(
    api: ApiClient, user: str, samples: list[Path]
) -> None:
    await upload_files(api, user, samples[:2])
    await process_all(api, user)
    other = (await api.http.get("/v1/me/fhir", headers=api.auth(user + "-other"))).json()
    assert [e["resource"]["resourceType"] for e in other["entry"]] == [
        "Patient", "CodeSystem", "ConceptMap"]  # fmt: skip
    assert (await api.http.get("/v1/me/fhir")).status_code == 401
