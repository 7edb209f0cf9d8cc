"""Application factory of the passkey auth service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthplatform import __version__
from healthplatform.api.errors import install_error_handlers, respond
from healthplatform.api.observability import ObservabilityMiddleware
from healthplatform.auth import endpoints, internal, metrics
from healthplatform.auth.compat import AuthErrors
from healthplatform.auth.errors import UNAVAILABLE
from healthplatform.auth.openapi import OPENAPI_URL, install_openapi
from healthplatform.auth.resources import AuthResources, open_auth_resources
from healthplatform.auth.service import AuthService
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.cors import CorsMiddleware
from healthplatform.core.errors import PayloadTooLarge
from healthplatform.core.revocation import RevocationList


class BodyLimitMiddleware:
    """Reads the request body up front and refuses it (400, before any parsing) when it
    exceeds ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics.AUTH_FAILURES.labels(reason="too_large").inc()
        error = PayloadTooLarge("request body too large", status_code=400)
        await respond(Request(scope), error, AuthErrors())(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_auth_app(
    settings: AuthSettings,
    resources: AuthResources | None = None,
    *,
    revocations: RevocationList | None = None,
) -> FastAPI:
    """Build the auth service. With ``resources`` given, the caller owns their lifetime.
    ``revocations``: the list a Health API in the same process reads (``up``).
    The auth database must be migrated first (:meth:`healthplatform.db.migrate.AUTH.upgrade`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if resources is not None:
            app.state.auth_service = AuthService(resources)
            yield
            return
        async with open_auth_resources(settings, revocations=revocations) as res:
            app.state.auth_service = AuthService(res)
            yield

    app = FastAPI(
        title="Passkey auth",
        version=__version__,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # FastAPI's pages load unpinned script from a CDN
        redoc_url=None,
        # ObservabilityMiddleware makes the server span (joining an incoming traceparent);
        # FastAPI's own would start a second, disconnected trace per request
        telemetry={"tracing": False},
    )
    install_error_handlers(app, AuthErrors(), UNAVAILABLE)
    install_openapi(app)
    for router in (
        endpoints.webauthn,
        endpoints.sessions,
        endpoints.passkeys,
        endpoints.account,
        endpoints.well_known,
        endpoints.health,
        internal.internal,
    ):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CorsMiddleware, origins=settings.cors_origins)
    app.add_middleware(ObservabilityMiddleware, service="auth")
    return app
