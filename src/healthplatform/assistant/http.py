"""/mcp (the MCP endpoint, authenticated like the API) and /v1/me/assistant-audit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Query
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from healthplatform.api.deps import CurrentUser, ResourcesDep
from healthplatform.assistant import audit
from healthplatform.assistant.server import (
    PRINCIPAL_KEY,
    RESOURCES_KEY,
    build_server,
    session_manager,
)
from healthplatform.core import metrics
from healthplatform.core.errors import (
    PayloadTooLarge,
    PlatformError,
    TooManyRequests,
    Unauthorized,
)
from healthplatform.core.tokens import Principal
from healthplatform.runtime import Resources

READ_SCOPE = "health:read"
PATH = "/mcp"
MAX_BODY = 1 << 20  # bytes of one JSON-RPC request

router = APIRouter(prefix="/v1/me", tags=["me"])


def token_scopes(principal: Principal) -> set[str] | None:
    """The token's scopes (``scope`` string or ``scp`` list); None when it has none."""
    claims = principal.claims
    if isinstance(claims.get("scope"), str):
        return set(claims["scope"].split())
    if isinstance(claims.get("scp"), list):
        return {str(s) for s in claims["scp"]}
    return None


def may_read(principal: Principal) -> bool:
    """The API's own tokens carry no scope (they may do all the person may, reading
    included); a scoped token must hold ``health:read``."""
    scopes = token_scopes(principal)
    return scopes is None or READ_SCOPE in scopes


class Forbidden(PlatformError):
    """The token lacks the scope the assistant needs (``health:read``)."""

    status_code = 403
    code = "forbidden"


class McpEndpoint:
    """Verifies the bearer token (the API's verifier and rate limit), then hands the
    request to the SDK with the caller in the ASGI scope."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        res: Resources = scope["app"].state.resources
        try:
            principal = await self._authenticate(res, Headers(scope=scope))
        except PlatformError as exc:
            await _error(send, exc)
            return
        body = await _bounded_body(receive)
        if body is None:
            await _error(send, PayloadTooLarge(f"a request holds at most {MAX_BODY} bytes"))
            return
        scope[PRINCIPAL_KEY] = principal
        scope[RESOURCES_KEY] = res
        await self.manager.handle_request(scope, _replay(body, receive), send)

    @staticmethod
    async def _authenticate(res: Resources, headers: Headers) -> Principal:
        kind, _, token = headers.get("authorization", "").partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            metrics.TOKENS_REFUSED.labels(reason="missing").inc()
            raise Unauthorized()
        principal = await res.verifier.verify(token.strip())
        if not may_read(principal):
            raise Forbidden(
                f"token lacks the {READ_SCOPE} scope",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", '
                         f'scope="{READ_SCOPE}"'},
            )  # fmt: skip
        decision = await res.limiter.hit(principal.subject)
        if not decision.allowed:
            metrics.RATE_LIMITED.inc()
            raise TooManyRequests(decision.retry_after)
        return principal


async def _bounded_body(receive: Receive) -> bytes | None:
    """The request body, or None past ``MAX_BODY`` (JSON-RPC calls are small; the SDK would
    read any size)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # disconnected: the SDK sees an empty body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # then the client's disconnect, when it comes

    return replayed


async def _error(send: Send, exc: PlatformError) -> None:
    body = orjson.dumps({"detail": exc.message, "code": exc.code})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def mount(app: FastAPI) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Add /mcp to the app; the returned context manager must run in its lifespan."""
    manager = session_manager(build_server())
    # stateless: no server-initiated stream (GET) and no session to end (DELETE), both 405
    app.router.routes.insert(0, Route(PATH, endpoint=McpEndpoint(manager), methods=["POST"]))
    app.include_router(router)
    return lambda: _running(manager)


@asynccontextmanager
async def _running(manager: StreamableHTTPSessionManager) -> AsyncIterator[None]:
    """The SDK's task group lives in a task of its own: a lifespan may be entered and left
    in different tasks (test clients do), a task group may not."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with manager.run():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold(), name="mcp-session-manager")
    ready = asyncio.create_task(started.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()  # raises what stopped it
    try:
        yield
    finally:
        stop.set()
        await task


@router.get("/assistant-audit")
async def assistant_audit(
    user: CurrentUser,
    res: ResourcesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Every call an AI assistant made on your data through MCP, newest first: tool,
    arguments, outcome, the token it used (its id) and the client."""
    return await audit.entries(res, user.user_id, limit, before)
