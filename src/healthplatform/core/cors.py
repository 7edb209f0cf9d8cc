"""CORS for the configured client origins only (never ``*``, no credentials: tokens travel
in the ``Authorization`` header, not in cookies).

A request from an allowed origin gets ``Access-Control-Allow-Origin: <that origin>``; a
preflight from one is answered here with 204 (before routing, so never 405). Any other
origin gets nothing: the request goes on as without CORS (a preflight then meets the
route's usual 404/405 and the browser refuses the cross-origin call)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = "GET, POST, PUT, DELETE"
ALLOW_HEADERS = ("authorization", "content-type", "x-hp-auth-features", "x-request-id")
EXPOSE_HEADERS = "Retry-After, X-Request-Id, Content-Disposition"
MAX_AGE_SECONDS = 600


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case; raises ``ValueError`` for anything else
    (``*``, ``null``, a path, a scheme other than http/https)."""
    text = origin.strip().rstrip("/").lower()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a CORS origin is http(s)://host[:port]: {origin!r}")
    if parts.path or parts.query or parts.fragment or "*" in text or parts.username:
        raise ValueError(f"a CORS origin is http(s)://host[:port] only: {origin!r}")
    _ = parts.port  # raises ValueError for a bad port
    return text


class CorsMiddleware:
    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(normalise_origin(o) for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.origins:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        if origin not in self.origins:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(origin, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _preflight(origin: str, send: Send) -> None:
        headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ", ".join(ALLOW_HEADERS).encode()),
            (b"access-control-max-age", str(MAX_AGE_SECONDS).encode()),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
