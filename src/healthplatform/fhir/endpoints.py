"""/v1/me/fhir: the caller's data as a FHIR R4 Bundle (streamed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.fhir.bundle import MEDIA_TYPE, bundle_chunks

router = APIRouter(prefix="/v1/me", tags=["me"])


@router.get(
    "/fhir",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}},
)
async def export_fhir(user: CurrentUser, res: ResourcesDep) -> StreamingResponse:
    """Your records as a FHIR R4 Bundle (type collection): one Observation per record
    (LOINC + UCUM where a standard code exists, our CodeSystem otherwise), the CGM summary
    Observations of your glucose readings, our CodeSystem and ConceptMap. See docs/fhir.md."""
    return StreamingResponse(
        bundle_chunks(res, user.user_id),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="healthplatform-fhir.json"'},
    )
