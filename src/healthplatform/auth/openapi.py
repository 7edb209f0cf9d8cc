"""The auth service's OpenAPI document, made to say what the service does: refusals are
``400 {"error"}`` (FastAPI's default ``422 {"detail"}`` never happens here, the error
handlers turn it into a 400), and it is served at ``/auth/openapi.json`` so that the local
all-in-one gateway (``healthplatform up``) routes it to this service, not to the API.

No ``/docs`` or ``/redoc``: FastAPI's pages load their script from a CDN; the document is
JSON only (load it into any viewer)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

OPENAPI_URL = "/auth/openapi.json"
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=(
            'Passkey (WebAuthn) sign-in and tokens. Errors are `{"error": "<message>"}`. '
            "Request header `X-HP-Auth-Features: refresh-token, passkey-id, error-code` asks "
            "for the additions to the previous server's answers (docs/auth.md)."
        ),
        routes=app.routes,
    )
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION:
        components.pop(name, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
