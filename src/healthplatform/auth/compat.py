"""Compatibility with the clients of the previous passkey server (its TypeScript web client
and its generated Android client, whose strict JSON models refuse unknown fields).

Answers keep the old shape unless a client asks for the additions of this service with
the request header ``X-HP-Auth-Features`` (comma separated, unknown names ignored):

- ``refresh-token``: ``refresh_token`` and ``refresh_expires_in`` in the answer of
  ``/authenticate/complete`` (``/token/refresh`` always answers them: old clients never
  call it);
- ``passkey-id``: ``passkeyId`` in the answer of ``/register/complete``;
- ``error-code``: the stable ``code`` in error answers (docs/errors.md) next to ``error``.

Credentials may omit ``rawId`` when ``id`` is present (the old test-credential generator
does): both carry the same base64url credential id.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from healthplatform.auth import metrics
from healthplatform.auth.errors import bad_request
from healthplatform.core.errors import PlatformError, ValidationFailed

FEATURES_HEADER = "X-HP-Auth-Features"
FEATURE_REFRESH_TOKEN = "refresh-token"  # noqa: S105 (a feature name)
FEATURE_PASSKEY_ID = "passkey-id"
FEATURE_ERROR_CODE = "error-code"
KNOWN_FEATURES = frozenset({FEATURE_REFRESH_TOKEN, FEATURE_PASSKEY_ID, FEATURE_ERROR_CODE})


def requested_features(request: Request) -> frozenset[str]:
    """The known features named in every ``X-HP-Auth-Features`` header of ``request``."""
    names = {
        part.strip().lower()
        for value in request.headers.getlist(FEATURES_HEADER)
        for part in value[:500].split(",")
    }
    return frozenset(names & KNOWN_FEATURES)


def credential_object(credential: str | dict[str, Any]) -> dict[str, Any]:
    """The ``PublicKeyCredential`` as an object (the wire carries it as a JSON string),
    with ``rawId`` filled in from ``id`` when a client left it out."""
    value: object = credential
    if isinstance(credential, str):
        try:
            value = json.loads(credential)
        except (ValueError, RecursionError) as exc:
            raise bad_request("malformed credential: not JSON", "malformed") from exc
    if not isinstance(value, dict):
        raise bad_request("malformed credential: not an object", "malformed")
    if "rawId" not in value and isinstance(value.get("id"), str):
        value = {**value, "rawId": value["id"]}
    return value


class AuthErrors:
    """``{"error": "<message>"}``, with ``"code"`` when the client asks; invalid requests
    are 400 (never FastAPI's ``422 {"detail"}``)."""

    def body(self, request: Request, error: PlatformError) -> dict[str, Any]:
        if FEATURE_ERROR_CODE in requested_features(request):
            return {"error": error.message, "code": error.code}
        return {"error": error.message}

    def invalid(self, request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if str(first.get("type", "")) == "json_invalid":
            metrics.AUTH_FAILURES.labels(reason="malformed").inc()
            message = "malformed JSON body"
        else:
            where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
            metrics.AUTH_FAILURES.labels(reason="invalid_request").inc()
            message = f"invalid request: {where + ': ' if where else ''}{first.get('msg', '')}"
        error = ValidationFailed(message[:300], status_code=400)
        return JSONResponse(self.body(request, error), status_code=400)

    def document(self, schema: dict[str, Any]) -> None:
        """The auth document is made by :mod:`healthplatform.auth.openapi`."""
