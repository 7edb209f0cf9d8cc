"""HTTP endpoints: WebAuthn ceremonies, tokens and devices, passkeys, well-known documents,
health and metrics."""

from __future__ import annotations

import json
import time
import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from healthplatform.auth.account import delete_account
from healthplatform.auth.compat import (
    FEATURE_PASSKEY_ID,
    FEATURE_REFRESH_TOKEN,
    requested_features,
)
from healthplatform.auth.deps import ClientLimited, Principal, ResourcesDep, ServiceDep
from healthplatform.auth.schemas import (
    AuthenticateStartRequest,
    AuthenticateStartResponse,
    CompleteRequest,
    DeviceList,
    ErrorBody,
    PasskeyList,
    PasskeyStartRequest,
    RefreshRequest,
    RegisterStartRequest,
    RegisterStartResponse,
    SuccessResponse,
    TokenResponse,
)
from healthplatform.core.readiness import database_check, readiness

JWKS_CACHE_CONTROL = "max-age=300, stale-if-error=3600, public"
ASSETLINKS_RELATIONS = [
    "delegate_permission/common.handle_all_urls",
    "delegate_permission/common.get_login_creds",
]

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "Bad or stale request"},
    409: {"model": ErrorBody, "description": "A concurrent request won (retry)"},
    503: {"model": ErrorBody, "description": "A dependency is down (Retry-After)"},
    429: {"model": ErrorBody, "description": "Over an abuse limit (Retry-After)"},
}
SIGNED_IN: dict[int | str, dict[str, object]] = {
    **ERRORS,
    401: {"model": ErrorBody, "description": "Missing, invalid or revoked access token"},
}
webauthn = APIRouter(  # 429 per client IP
    tags=["webauthn"], responses=ERRORS, dependencies=[ClientLimited]
)
sessions = APIRouter(tags=["sessions"], responses=SIGNED_IN)
passkeys = APIRouter(tags=["passkeys"], responses=SIGNED_IN)
account = APIRouter(tags=["account"], responses=SIGNED_IN)
well_known = APIRouter(tags=["well-known"])
health = APIRouter(tags=["health"])


def _device_label(request: Request) -> str:
    agent = request.headers.get("user-agent", "")
    return "".join(ch for ch in agent if ch.isprintable())[:200]


# --- ceremonies ----------------------------------------------------------------------------


@webauthn.post(
    "/register/start",
    response_model_by_alias=True,
    responses={409: {"model": ErrorBody, "description": "Username taken (or a look-alike)"}},
)
async def register_start(body: RegisterStartRequest, svc: ServiceDep) -> RegisterStartResponse:
    """Options for a new account's first passkey."""
    await svc.res.limits.by_username(body.username)
    return await svc.start_registration(body.username, body.display_name)


@webauthn.post(
    "/register/complete",
    response_model_exclude_none=True,
    responses={409: {"model": ErrorBody, "description": "Username taken meanwhile"}},
)
async def register_complete(
    body: CompleteRequest, request: Request, svc: ServiceDep
) -> SuccessResponse:
    """Verify the attestation and create the account with its passkey. ``passkeyId`` only
    with ``X-HP-Auth-Features: passkey-id``."""
    result = await svc.complete_registration(body.request_id, body.credential)
    if FEATURE_PASSKEY_ID not in requested_features(request):
        result = result.model_copy(update={"passkey_id": None})
    return result


@webauthn.post("/authenticate/start")
async def authenticate_start(
    svc: ServiceDep, body: AuthenticateStartRequest | None = None
) -> AuthenticateStartResponse:
    """Options for a login; without ``username`` any discoverable passkey may answer."""
    if body is not None and body.username is not None:
        await svc.res.limits.by_username(body.username)
    return await svc.start_authentication(body.username if body else None)


@webauthn.post(
    "/authenticate/complete",
    response_model_exclude_none=True,
    responses={401: {"model": ErrorBody, "description": "Authentication failed"}},
)
async def authenticate_complete(
    body: CompleteRequest, request: Request, svc: ServiceDep
) -> TokenResponse:
    """Verify the assertion; answer an access token and a new device session. The refresh
    token only with ``X-HP-Auth-Features: refresh-token``."""
    result = await svc.complete_authentication(
        body.request_id, body.credential, _device_label(request)
    )
    if FEATURE_REFRESH_TOKEN not in requested_features(request):
        result = result.model_copy(update={"refresh_token": None, "refresh_expires_in": None})
    return result


# --- tokens and device sessions ------------------------------------------------------------


@sessions.post("/token/refresh", dependencies=[ClientLimited])
async def token_refresh(body: RefreshRequest, svc: ServiceDep) -> TokenResponse:
    """Rotate a refresh token: new access and refresh token; reuse revokes the family."""
    return await svc.refresh(body.refresh_token)


@sessions.post("/logout", response_model_exclude_none=True)
async def logout(principal: Principal, svc: ServiceDep) -> SuccessResponse:
    """Revoke the caller's device session (every refresh token of it)."""
    await svc.logout(principal)
    return SuccessResponse(message="signed out")


@sessions.get("/devices")
async def list_devices(principal: Principal, svc: ServiceDep) -> DeviceList:
    """The caller's signed-in devices (active sessions)."""
    return await svc.list_devices(principal)


@sessions.delete(
    "/devices/{device_id}",
    response_model_exclude_none=True,
    responses={404: {"model": ErrorBody, "description": "Not found"}},
)
async def revoke_device(
    device_id: uuid.UUID, principal: Principal, svc: ServiceDep
) -> SuccessResponse:
    """Sign a device out."""
    await svc.revoke_device(principal, device_id)
    return SuccessResponse(message="device signed out")


# --- passkeys of the signed-in user ----------------------------------------------------------


@passkeys.get("/passkeys")
async def list_passkeys(principal: Principal, svc: ServiceDep) -> PasskeyList:
    return await svc.list_passkeys(principal)


@passkeys.post("/passkeys/register/start", dependencies=[ClientLimited])
async def add_passkey_start(
    principal: Principal, svc: ServiceDep, body: PasskeyStartRequest | None = None
) -> RegisterStartResponse:
    """Options for one more passkey (existing ones are excluded)."""
    return await svc.start_add_passkey(principal, body.name if body else None)


@passkeys.post(
    "/passkeys/register/complete", dependencies=[ClientLimited], response_model_exclude_none=True
)
async def add_passkey_complete(
    body: CompleteRequest, principal: Principal, svc: ServiceDep
) -> SuccessResponse:
    return await svc.complete_registration(body.request_id, body.credential, principal)


@passkeys.delete(
    "/passkeys/{passkey_id}",
    response_model_exclude_none=True,
    responses={404: {"model": ErrorBody, "description": "Not found"}},
)
async def delete_passkey(
    passkey_id: uuid.UUID, principal: Principal, svc: ServiceDep
) -> SuccessResponse:
    """Remove a passkey (not the last one); sessions it signed in are revoked."""
    await svc.delete_passkey(principal, passkey_id)
    return SuccessResponse(message="passkey removed")


# --- the account itself ------------------------------------------------------------------


@account.delete("/account", response_model_exclude_none=True)
async def delete_my_account(principal: Principal, svc: ServiceDep) -> SuccessResponse:
    """Delete the caller's account: every device session ends (its tokens are refused at
    once, here and by the Health API), then the passkeys, sessions and the user are deleted
    in one transaction. The username is free again. Health data is deleted separately with
    ``DELETE /v1/me/data`` (call it first)."""
    await delete_account(svc.res, principal)
    return SuccessResponse(message="account deleted")


# --- well-known documents ------------------------------------------------------------------


@well_known.get("/.well-known/jwks.json")
async def jwks(res: ResourcesDep) -> Response:
    """Public signing keys: pending, active and retired."""
    body = json.dumps(await res.keys.jwks(), separators=(",", ":"))
    return Response(
        body, media_type="application/json", headers={"Cache-Control": JWKS_CACHE_CONTROL}
    )


@well_known.get("/.well-known/assetlinks.json")
async def assetlinks(res: ResourcesDep) -> JSONResponse:
    """Digital Asset Links: lets the Android app use this domain's passkeys."""
    settings = res.settings
    statements = []
    if settings.android_package_name:
        statements.append(
            {
                "relation": ASSETLINKS_RELATIONS,
                "target": {
                    "namespace": "android_app",
                    "package_name": settings.android_package_name,
                    "sha256_cert_fingerprints": list(settings.android_cert_fingerprints),
                },
            }
        )
    return JSONResponse(statements, headers={"Cache-Control": "max-age=3600, public"})


# --- health and metrics --------------------------------------------------------------------


@health.get("/health")
async def health_status() -> dict[str, object]:
    return {"status": "healthy", "timestamp": int(time.time() * 1000)}


@health.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/health/ready")
async def ready(res: ResourcesDep) -> JSONResponse:
    return await readiness(
        {"database": database_check(res.engine), "challenge_store": res.challenges.check}
    )


@health.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
