"""Auth failures and their JSON form ``{"error": "..."}`` (the wire contract of the
previous server). Expected failures are 400/401/404; a down dependency is 503; never 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthplatform.auth import metrics
from healthplatform.core.errors import DependencyUnavailable, PlatformError

log = logging.getLogger(__name__)


class CeremonyError(PlatformError):
    """A refused WebAuthn or token request; ``reason`` labels the failure metric."""

    def __init__(self, message: str, *, reason: str, status_code: int = 400) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
        super().__init__(message, status_code=status_code, headers=headers)
        self.reason = reason


def bad_request(message: str, reason: str) -> CeremonyError:
    metrics.AUTH_FAILURES.labels(reason=reason).inc()
    return CeremonyError(message, reason=reason, status_code=400)


def unauthorized(message: str, reason: str) -> CeremonyError:
    metrics.AUTH_FAILURES.labels(reason=reason).inc()
    return CeremonyError(message, reason=reason, status_code=401)


def conflict(message: str, reason: str) -> CeremonyError:
    """409: the request is fine but the state forbids it (a taken username, the previous
    server's contract)."""
    metrics.AUTH_FAILURES.labels(reason=reason).inc()
    return CeremonyError(message, reason=reason, status_code=409)


def error_response(
    message: str, status_code: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PlatformError)
    async def platform_error(_: Request, exc: PlatformError) -> JSONResponse:
        return error_response(exc.message, exc.status_code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        kind = str(first.get("type", ""))
        if kind == "json_invalid":
            metrics.AUTH_FAILURES.labels(reason="malformed").inc()
            return error_response("malformed JSON body", 400)
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        metrics.AUTH_FAILURES.labels(reason="invalid_request").inc()
        message = f"invalid request: {where + ': ' if where else ''}{first.get('msg', '')}"
        return error_response(message[:300], 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(str(exc.detail), exc.status_code, dict(exc.headers or {}))

    async def dependency_down(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, IntegrityError):
            log.exception("integrity error", extra={"path": request.url.path})
            return error_response("conflicting request, retry", 400)
        name = "challenge store" if isinstance(exc, RedisError) else "database"
        log.warning("%s unavailable", name, extra={"error": str(exc)[:500]})
        down = DependencyUnavailable(name)
        return error_response(down.message, down.status_code, down.headers)

    for exc_class in (
        DBAPIError,
        InterfaceError,
        OperationalError,
        RedisError,
        ConnectionError,
        TimeoutError,
        OSError,
    ):
        app.add_exception_handler(exc_class, dependency_down)
