"""Every failure becomes a JSON answer: expected ones with their 4xx, a down dependency
with 503, and only a genuine bug with 500. One installer for the Health API, the MCP app
and the auth service; an :class:`ErrorStyle` writes each one's bodies."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthplatform.core.errors import (
    Conflict,
    DependencyUnavailable,
    MethodNotAllowed,
    NotFound,
    PlatformError,
    ValidationFailed,
)
from healthplatform.storage.base import ObjectStoreError

log = logging.getLogger(__name__)

# Down dependencies every app has: its database and the network under it.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    DBAPIError,
    InterfaceError,
    OperationalError,
    ConnectionError,
    TimeoutError,
    OSError,
)
_HTTP_ERRORS: dict[int, type[PlatformError]] = {404: NotFound, 405: MethodNotAllowed}


class ErrorBody(BaseModel):
    """An error answer of the Health API."""

    detail: str
    code: str


class Problem(BaseModel):
    loc: list[str]
    msg: str


class ValidationErrorBody(BaseModel):
    """A 422 of the Health API: each problem of the request."""

    detail: list[Problem]
    code: str


class ErrorStyle(Protocol):
    """How an app writes its error bodies."""

    def body(self, request: Request, error: PlatformError) -> dict[str, Any]: ...

    def invalid(self, request: Request, exc: RequestValidationError) -> JSONResponse: ...

    def document(self, schema: dict[str, Any]) -> None:
        """Make the app's OpenAPI document describe these bodies."""


class ApiErrors:
    """``{"detail": "<message>", "code": "<code>"}``; a 422 lists each problem."""

    def body(self, _: Request, error: PlatformError) -> dict[str, Any]:
        return {"detail": error.message, "code": error.code}

    def invalid(self, _: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")}
            for e in exc.errors()
        ]
        body = {"detail": problems, "code": ValidationFailed.code}
        return JSONResponse(body, status_code=ValidationFailed.status_code)

    def document(self, schema: dict[str, Any]) -> None:
        """FastAPI's ``HTTPValidationError`` becomes :class:`ValidationErrorBody`; every
        other documented 4xx/5xx without a schema gets :class:`ErrorBody`."""
        ref = "#/components/schemas/{model}"
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        validation = ValidationErrorBody.model_json_schema(ref_template=ref)
        components.pop("ValidationError", None)
        components.update(validation.pop("$defs", {}))
        components["HTTPValidationError"] = validation
        components["ErrorBody"] = ErrorBody.model_json_schema(ref_template=ref)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                for status, answer in operation.get("responses", {}).items():
                    if status.startswith(("4", "5")) and status != "422":
                        content = answer.setdefault("content", {}).setdefault(
                            "application/json", {}
                        )
                        content.setdefault("schema", {"$ref": ref.format(model="ErrorBody")})


def respond(request: Request, error: PlatformError, style: ErrorStyle) -> Response:
    """``error`` as an answer in ``style`` (no body where HTTP allows none)."""
    if not _has_body(error.status_code):
        return Response(status_code=error.status_code, headers=error.headers)
    return JSONResponse(
        style.body(request, error), status_code=error.status_code, headers=error.headers
    )


def _has_body(status: int) -> bool:
    return status >= 200 and status not in (204, 205, 304)


def install_error_handlers(
    app: FastAPI,
    style: ErrorStyle | None = None,
    unavailable: Mapping[type[Exception], str] | None = None,
) -> None:
    """Answer :class:`PlatformError` with its status and code, request validation and the
    framework's own refusals in ``style`` (default: the Health API's), a lost race on a
    unique constraint (``IntegrityError``) 409 ``conflict`` (docs/errors.md), and a down
    dependency 503: ``unavailable`` names the app's other dependencies by exception class
    (default: the object store)."""
    chosen = style or ApiErrors()
    names = {ObjectStoreError: "object store"} if unavailable is None else dict(unavailable)

    @app.exception_handler(PlatformError)
    async def platform_error(request: Request, exc: PlatformError) -> Response:
        if exc.status_code >= 500:  # every 503 says why in the log
            cause = exc.__cause__ or exc.__context__
            log.warning(
                "answered %s: %s",
                exc.status_code,
                exc.message,
                extra={
                    "path": request.url.path,
                    "dependency": getattr(exc, "dependency", None),
                    "cause": f"{type(cause).__name__}: {cause}"[:500] if cause else None,
                },
            )
        return respond(request, exc, chosen)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return chosen.invalid(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        kind = _HTTP_ERRORS.get(exc.status_code, PlatformError)
        error = kind(str(exc.detail), status_code=exc.status_code, headers=dict(exc.headers or {}))
        return respond(request, error, chosen)

    async def dependency_down(request: Request, exc: Exception) -> Response:
        if isinstance(exc, IntegrityError):
            log.exception("integrity error: answered 409", extra={"path": request.url.path})
            return respond(request, Conflict("conflicting request, retry"), chosen)
        name = next((n for cls, n in names.items() if isinstance(exc, cls)), "database")
        log.warning(
            "answered 503: %s unavailable",
            name,
            extra={"path": request.url.path, "cause": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return respond(request, DependencyUnavailable(name), chosen)

    # Registered per class (not on Exception): Starlette re-raises what reaches the
    # catch-all handler, these are answered and done.
    for exc_class in (*names, *DATABASE_DOWN):
        app.add_exception_handler(exc_class, dependency_down)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            chosen.document(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
