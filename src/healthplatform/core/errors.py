"""One error base class; each expected failure carries its HTTP status (never a 500) and a
stable machine-readable ``code`` that error bodies carry (docs/errors.md)."""

from __future__ import annotations


class PlatformError(Exception):
    """Any other refusal (the HTTP status says which)."""

    status_code = 400
    code = "error"

    def __init__(
        self, message: str, *, status_code: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers or {}


class BadRequest(PlatformError):
    """The request is malformed or breaks a documented limit."""

    status_code = 400
    code = "bad_request"


class Unauthorized(PlatformError):
    """No usable bearer token."""

    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "invalid or missing bearer token") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class NotFound(PlatformError):
    """No such resource (for this caller), or no such route."""

    status_code = 404
    code = "not_found"


class MethodNotAllowed(PlatformError):
    """The route exists, the method does not."""

    status_code = 405
    code = "method_not_allowed"


class Conflict(PlatformError):
    """A concurrent request changed the same thing first: retry."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(PlatformError):
    """The request body is over the limit."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(PlatformError):
    """The body or file is not of an accepted type."""

    status_code = 415
    code = "unsupported_media_type"


class Unprocessable(PlatformError):
    """Well-formed but meaningless values (a date range backwards, an unknown time zone)."""

    status_code = 422
    code = "unprocessable"


class UnprocessableFile(Unprocessable):
    """The uploaded file is refused for its content (its status: 413, 415 or 422)."""

    code = "unprocessable_file"


class ValidationFailed(Unprocessable):
    """The request does not match its schema (the body lists each problem)."""

    code = "validation_failed"


class TooManyRequests(PlatformError):
    """Over a rate limit: retry after ``Retry-After`` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limit exceeded", headers={"Retry-After": str(max(1, retry_after))})


class DependencyUnavailable(PlatformError):
    """A backing service (database, object store, cache) is down: retry later."""

    status_code = 503
    code = "dependency_unavailable"

    def __init__(self, dependency: str) -> None:
        super().__init__(f"{dependency} unavailable, retry later", headers={"Retry-After": "5"})
        self.dependency = dependency


def every_error_class() -> list[type[PlatformError]]:
    """:class:`PlatformError` and every subclass imported so far, by code."""
    found: list[type[PlatformError]] = []
    pending: list[type[PlatformError]] = [PlatformError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.code)


def reference_table() -> str:
    """The error codes as a Markdown table (docs/errors.md), of the classes imported."""
    lines = ["| Code | Status | Meaning | Class |", "|---|---|---|---|"]
    for cls in every_error_class():
        meaning = (cls.__doc__ or "").strip().splitlines()[0].replace("``", "`")
        lines.append(
            f"| `{cls.code}` | {cls.status_code} | {meaning} | `{cls.__module__}.{cls.__name__}` |"
        )
    return "\n".join(lines) + "\n"
