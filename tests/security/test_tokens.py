"""Token attacks against every protected route of the Health API (the verifier itself is
attacked in tests/integration/test_tokens.py, whose helpers are reused here): each forged,
expired, misdirected or malformed token gets 401 on every /v1 route, never data, never 5xx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import ApiClient
from tests.integration.test_tokens import b64
from tests.security.test_authorization import PER_USER_API
from tests.support.services import AUDIENCE, ISSUER, KeySet

pytestmark = pytest.mark.integration


def forged_tokens(keys: KeySet) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "victim", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    public_pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64({"alg": "HS256", "kid": keys.rsa_kid, "typ": "JWT"})
    body = b64(claims)
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    valid = keys.mint("victim")
    head, _, sig = valid.split(".")
    return {
        "alg none": f"{b64({'alg': 'none', 'kid': keys.rsa_kid})}.{body}.",
        "HS256 keyed with the public key": f"{header}.{body}.{b64_raw(signature)}",
        "signed by a key we never published, known kid": jwt.encode(
            claims, stranger, algorithm="RS256", headers={"kid": keys.rsa_kid}
        ),
        "unknown kid": keys.mint("victim", kid=f"nope-{uuid.uuid4().hex[:6]}"),
        "expired": keys.mint("victim", ttl=-300),
        "other audience": keys.mint("victim", aud="another-api"),
        "other issuer": keys.mint("victim", iss="https://evil.example"),
        "tampered subject": f"{head}.{b64({**claims, 'sub': 'admin'})}.{sig}",
        "no subject": jwt.encode(
            {k: v for k, v in claims.items() if k != "sub"},
            keys.rsa,
            algorithm="RS256",
            headers={"kid": keys.rsa_kid},
        ),
        "garbage": "not.a.token",
        "empty": "",
    }


def b64_raw(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def url_of(path: str) -> str:
    return path.replace("{correlation_id}", str(uuid.uuid4())).replace("{day}", "2025-09-20")


async def test_forged_tokens_are_refused_on_every_route(api: ApiClient, keys: KeySet) -> None:
    failures = []
    for name, token in forged_tokens(keys).items():
        for method, path in sorted(PER_USER_API):
            response = await api.http.request(
                method, url_of(path), headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 401:
                failures.append(f"{name}: {method} {path} -> {response.status_code}")
    assert not failures, "\n".join(failures)


async def test_tokens_only_count_in_the_authorization_header(api: ApiClient, keys: KeySet) -> None:
    token = keys.mint("victim")
    for attempt in (
        {"params": {"access_token": token}},
        {"headers": {"Authorization": f"Basic {token}"}},
        {"headers": {"Authorization": token}},
        {"headers": {"Cookie": f"access_token={token}"}},
    ):
        response = await api.http.get("/v1/upload/history", **attempt)  # type: ignore[arg-type]
        assert response.status_code == 401, attempt
    ok = await api.http.get("/v1/upload/history", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
