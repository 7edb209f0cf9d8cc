"""Every failure becomes a JSON answer: expected ones with their 4xx, a down dependency
with 503, and only a genuine bug with 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from healthplatform.core.errors import DependencyUnavailable, PlatformError
from healthplatform.storage.base import ObjectStoreError

log = logging.getLogger(__name__)


def _json(error: PlatformError) -> JSONResponse:
    return JSONResponse(
        {"detail": error.message}, status_code=error.status_code, headers=error.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PlatformError)
    async def platform_error(request: Request, exc: PlatformError) -> JSONResponse:
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
        return _json(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(ObjectStoreError)
    async def store_down(request: Request, exc: ObjectStoreError) -> JSONResponse:
        log.warning(
            "answered 503: object store unavailable",
            extra={"path": request.url.path, "cause": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return _json(DependencyUnavailable("object store"))

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, IntegrityError):
            log.exception("integrity error", extra={"path": request.url.path})
            return JSONResponse({"detail": "internal error"}, status_code=500)
        log.warning(
            "answered 503: database unavailable",
            extra={"path": request.url.path, "cause": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return _json(DependencyUnavailable("database"))

    # Registered per class (not on Exception): Starlette re-raises what reaches the
    # catch-all handler, these are answered and done.
    for exc_class in (
        DBAPIError,
        InterfaceError,
        OperationalError,
        ConnectionError,
        TimeoutError,
        OSError,
    ):
        app.add_exception_handler(exc_class, database_down)
