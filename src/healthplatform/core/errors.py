"""One error base class; each expected failure carries its HTTP status (never a 500)."""

from __future__ import annotations


class PlatformError(Exception):
    """An expected failure with a client-facing message and HTTP status."""

    status_code = 400

    def __init__(
        self, message: str, *, status_code: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers or {}


class BadRequest(PlatformError):
    status_code = 400


class Unauthorized(PlatformError):
    status_code = 401

    def __init__(self, message: str = "invalid or missing bearer token") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class NotFound(PlatformError):
    status_code = 404


class PayloadTooLarge(PlatformError):
    status_code = 413


class UnsupportedMediaType(PlatformError):
    status_code = 415


class Unprocessable(PlatformError):
    status_code = 422


class TooManyRequests(PlatformError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limit exceeded", headers={"Retry-After": str(max(1, retry_after))})


class DependencyUnavailable(PlatformError):
    """A backing service (database, object store, cache) is down: retry later."""

    status_code = 503

    def __init__(self, dependency: str) -> None:
        super().__init__(f"{dependency} unavailable, retry later", headers={"Retry-After": "5"})
        self.dependency = dependency
