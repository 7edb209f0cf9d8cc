"""Compatibility with the clients of the previous passkey server (its TypeScript web client
and its generated Android client, whose strict JSON models refuse unknown fields).

Answers keep the old shape unless a client asks for the additions of this service with
the request header ``X-HP-Auth-Features`` (comma separated, unknown names ignored):

- ``refresh-token``: ``refresh_token`` and ``refresh_expires_in`` in the answer of
  ``/authenticate/complete`` (``/token/refresh`` always answers them: old clients never
  call it);
- ``passkey-id``: ``passkeyId`` in the answer of ``/register/complete``.

Credentials may omit ``rawId`` when ``id`` is present (the old test-credential generator
does): both carry the same base64url credential id.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from healthplatform.auth.errors import bad_request

FEATURES_HEADER = "X-HP-Auth-Features"
FEATURE_REFRESH_TOKEN = "refresh-token"  # noqa: S105 (a feature name)
FEATURE_PASSKEY_ID = "passkey-id"
KNOWN_FEATURES = frozenset({FEATURE_REFRESH_TOKEN, FEATURE_PASSKEY_ID})


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
