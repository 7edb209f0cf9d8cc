"""Auth failures and their JSON form ``{"error": "..."}`` (the wire contract of the
previous server; ``"code"`` for clients that ask, :class:`healthplatform.auth.compat.AuthErrors`).
Expected failures are 400/401/404/409; a down dependency is 503; never 500."""

from __future__ import annotations

from redis.exceptions import RedisError

from healthplatform.auth import metrics
from healthplatform.core.errors import PlatformError


class CeremonyError(PlatformError):
    """A refused WebAuthn or token request (stale, replayed, not verifiable)."""

    code = "request_refused"

    def __init__(self, message: str, *, reason: str, status_code: int = 400) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
        super().__init__(message, status_code=status_code, headers=headers)
        self.reason = reason  # labels the failure metric


class AuthenticationFailed(CeremonyError):
    """Sign-in failed, or the access token is missing, invalid or of an ended session."""

    status_code = 401
    code = "authentication_failed"


class AlreadyRegistered(CeremonyError):
    """The username (or a look-alike) or the passkey is registered already."""

    status_code = 409
    code = "already_registered"


def bad_request(message: str, reason: str) -> CeremonyError:
    metrics.AUTH_FAILURES.labels(reason=reason).inc()
    return CeremonyError(message, reason=reason, status_code=400)


def unauthorized(message: str, reason: str) -> CeremonyError:
    metrics.AUTH_FAILURES.labels(reason=reason).inc()
    return AuthenticationFailed(message, reason=reason, status_code=401)


def conflict(message: str, reason: str) -> CeremonyError:
    """409: the request is fine but the state forbids it (a taken username, the previous
    server's contract)."""
    metrics.AUTH_FAILURES.labels(reason=reason).inc()
    return AlreadyRegistered(message, reason=reason, status_code=409)


UNAVAILABLE: dict[type[Exception], str] = {RedisError: "challenge store"}
