"""Serve the single-page web app: ``/`` (the HTML shell) and ``/static/<version>/<path>``.

Every asset is read into memory once, at the first request, from the package folder
``static/``; a request can only name a file of that fixed table, so no request path ever
reaches the file system (no traversal, no symlink surprises). ``<version>`` is a hash of all
assets: a deployment changes it, so assets are cached for a year as immutable while the
HTML shell is revalidated on every load.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from healthplatform.core.errors import NotFound
from healthplatform.healthconnect.registry import record_types

STATIC_DIR = Path(__file__).parent / "static"
INDEX_TEMPLATE = "index.html"
STATIC_PREFIX = "/static"
VERSION_CHARS = 12

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str


@dataclass(frozen=True)
class Bundle:
    """The app as served: the rendered shell and the versioned asset table."""

    version: str
    index: bytes
    assets: dict[str, Asset]


def load_bundle(folder: Path = STATIC_DIR) -> Bundle:
    """Read every servable file under ``folder`` (known extensions, regular files only)."""
    assets: dict[str, Asset] = {}
    for path in sorted(folder.rglob("*")):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file() or path.is_symlink():
            continue
        assets[path.relative_to(folder).as_posix()] = Asset(path.read_bytes(), media_type)
    digest = hashlib.sha256()
    for name, asset in assets.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(asset.body).digest())
    version = digest.hexdigest()[:VERSION_CHARS]
    template = (folder / INDEX_TEMPLATE).read_text(encoding="utf-8")
    index = template.replace("{{static}}", f"{STATIC_PREFIX}/{version}").replace(
        "{{record_types}}", html.escape(",".join(sorted(record_types())), quote=True)
    )
    return Bundle(version=version, index=index.encode(), assets=assets)


@cache
def bundle() -> Bundle:
    return load_bundle()


def _https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    first = forwarded.split(",")[0].strip().lower()
    return request.url.scheme == "https" or first == "https"


def security_headers(request: Request, *, html_page: bool) -> dict[str, str]:
    """Headers of every web response; the CSP and framing rules matter for the HTML."""
    headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    if html_page:
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if _https(request):
        headers["Strict-Transport-Security"] = HSTS
    return headers


router = APIRouter(include_in_schema=False)


@router.get("/")
async def index(request: Request) -> Response:
    """The app shell; screens are hash routes (``#/upload``, ``#/day/2025-09-20`` ...)."""
    headers = security_headers(request, html_page=True) | {"Cache-Control": REVALIDATE}
    return Response(bundle().index, media_type="text/html; charset=utf-8", headers=headers)


@router.get(STATIC_PREFIX + "/{version}/{path:path}")
async def static(version: str, path: str, request: Request) -> Response:
    """One asset of the current version; anything else (another version, an unknown or
    non-normalised path) is 404."""
    app_bundle = bundle()
    asset = app_bundle.assets.get(path) if version == app_bundle.version else None
    if asset is None:
        return JSONResponse(
            {"detail": "not found", "code": NotFound.code},
            status_code=404,
            headers=security_headers(request, html_page=False) | {"Cache-Control": "no-store"},
        )
    headers = security_headers(request, html_page=False) | {"Cache-Control": IMMUTABLE}
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def install(app: FastAPI) -> None:
    """Serve the web app from ``app``; does nothing if ``router`` is already included."""
    if not any(_is_web_route(route) for route in app.routes):
        app.include_router(router)


def _is_web_route(route: object) -> bool:
    # older FastAPI copies the routes of an included router; newer keeps the router
    return (
        getattr(route, "endpoint", None) is index
        or getattr(route, "original_router", None) is router
    )
