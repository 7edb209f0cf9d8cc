"""One origin for the all-in-one local run: the same path split the Kubernetes gateway
makes (passkey routes -> auth, everything else -> the API, which also serves the web app).
Each service still verifies tokens itself."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

AUTH_PREFIXES = (
    "/register/",
    "/authenticate/",
    "/token/",
    "/logout",
    "/devices",
    "/passkeys",
    "/account",  # DELETE /account (the web app's "Delete my account")
    "/.well-known/",
    "/auth/",  # the auth service's OpenAPI document (/auth/openapi.json)
)


def routes_to_auth(path: str) -> bool:
    return path.startswith(AUTH_PREFIXES)


class LocalGateway:
    """ASGI dispatcher by path prefix; runs both applications' lifespans."""

    def __init__(self, api: FastAPI, auth: FastAPI) -> None:
        self.api = api
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        app: ASGIApp = self.auth if routes_to_auth(scope.get("path", "")) else self.api
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with AsyncExitStack() as stack:
            await receive()  # lifespan.startup
            try:
                for app in (self.auth, self.api):
                    await stack.enter_async_context(app.router.lifespan_context(app))
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
