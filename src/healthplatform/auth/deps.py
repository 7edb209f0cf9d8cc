"""FastAPI dependencies of the auth service: the service object and the signed-in caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from healthplatform.auth.errors import unauthorized
from healthplatform.auth.resources import AuthResources
from healthplatform.auth.service import AuthService
from healthplatform.auth.tokens import AccessClaims, verify_access_token


# ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a thread pool.
async def get_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.auth_service
    return service


async def get_resources(request: Request) -> AuthResources:
    return (await get_service(request)).res


ServiceDep = Annotated[AuthService, Depends(get_service)]
ResourcesDep = Annotated[AuthResources, Depends(get_resources)]


async def get_principal(request: Request, service: ServiceDep) -> AccessClaims:
    """A valid access token of this service whose device session is not revoked."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("missing bearer token", "token_missing")
    claims = await verify_access_token(token.strip(), service.res.keys, service.settings)
    await service.check_session(claims)
    return claims


Principal = Annotated[AccessClaims, Depends(get_principal)]


async def limit_client(request: Request, service: ServiceDep) -> None:
    """The per-client-IP limit of the public ceremonies and token refresh (429)."""
    await service.res.limits.by_client(request)


ClientLimited = Depends(limit_client)
