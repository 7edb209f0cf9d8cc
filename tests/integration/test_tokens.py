"""Bearer token attacks against the verifier every service uses (real JWKS over HTTP)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from healthplatform.core.errors import Unauthorized
from healthplatform.core.tokens import JwksCache, TokenVerifier
from tests.support.services import AUDIENCE, ISSUER, KeySet

pytestmark = pytest.mark.integration


@pytest.fixture
async def verifier(jwks_url: str):  # type: ignore[no-untyped-def]
    cache = JwksCache(jwks_url, min_refresh=0)
    yield TokenVerifier(
        cache, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", "ES256", "EdDSA"], leeway=5
    )
    await cache.close()


def b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def test_valid_rs256_and_es256(verifier: TokenVerifier, keys: KeySet) -> None:
    assert (await verifier.verify(keys.mint("alice"))).subject == "alice"
    assert (await verifier.verify(keys.mint("bob", alg="ES256"))).subject == "bob"


async def test_alg_none_refused(verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = (
        b64({"alg": "none", "kid": "rsa-1"})
        + "."
        + b64({"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60})
        + "."
    )
    with pytest.raises(Unauthorized, match="algorithm"):
        await verifier.verify(token)


async def test_hs256_signed_with_the_public_key_refused(
    verifier: TokenVerifier, keys: KeySet
) -> None:
    public_pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    import hashlib
    import hmac

    header = b64({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"})
    body = b64({"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60})
    sig = (
        base64.urlsafe_b64encode(
            hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(Unauthorized, match="algorithm"):
        await verifier.verify(f"{header}.{body}.{sig}")


async def test_alg_mismatching_the_key_refused(verifier: TokenVerifier, keys: KeySet) -> None:
    token = jwt.encode({"sub": "x"}, keys.ec, algorithm="ES256", headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_unknown_kid_triggers_one_refetch(verifier: TokenVerifier, keys: KeySet) -> None:
    await verifier.verify(keys.mint("alice"))
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = f"rotated-{uuid.uuid4().hex[:6]}"
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(new_key.public_key()))
    jwk.update(kid=kid, use="sig", alg="RS256")
    before = keys.fetches
    keys.extra.append(jwk)
    try:
        now = int(time.time())
        token = jwt.encode(
            {
                "sub": "carol",
                "sid": "s-carol",
                "iss": ISSUER,
                "aud": AUDIENCE,
                "iat": now,
                "exp": now + 60,
            },
            new_key,
            algorithm="RS256",
            headers={"kid": kid},
        )
        assert (await verifier.verify(token)).subject == "carol"
        assert keys.fetches == before + 1
        with pytest.raises(Unauthorized, match="unknown kid"):
            await verifier.verify(
                jwt.encode(
                    {"sub": "x"}, new_key, algorithm="RS256", headers={"kid": "never-published"}
                )
            )
    finally:
        keys.extra.clear()


async def test_unknown_kid_refetch_is_rate_limited(jwks_url: str, keys: KeySet) -> None:
    cache = JwksCache(jwks_url, min_refresh=60)
    verifier = TokenVerifier(cache, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"])
    try:
        await verifier.verify(keys.mint("alice"))
        before = keys.fetches
        for i in range(20):
            with pytest.raises(Unauthorized):
                await verifier.verify(keys.mint("x", kid=f"garbage-{i}"))
        assert keys.fetches == before
    finally:
        await cache.close()


@pytest.mark.parametrize(
    "claims,reason",
    [
        ({"ttl": -120}, "expired"),
        ({"aud": "someone-else"}, "InvalidAudienceError"),
        ({"iss": "https://evil.example"}, "InvalidIssuerError"),
    ],
)
async def test_bad_claims_refused(
    verifier: TokenVerifier, keys: KeySet, claims: dict, reason: str
) -> None:
    with pytest.raises(Unauthorized, match=reason):
        await verifier.verify(keys.mint("alice", **claims))


async def test_missing_sub_or_exp_refused(verifier: TokenVerifier, keys: KeySet) -> None:
    now = int(time.time())
    for body in (
        {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60},
        {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "sub": "a"},
    ):
        token = jwt.encode(body, keys.rsa, algorithm="RS256", headers={"kid": "rsa-1"})
        with pytest.raises(Unauthorized):
            await verifier.verify(token)


async def test_tampered_payload_refused(verifier: TokenVerifier, keys: KeySet) -> None:
    header, _, sig = keys.mint("alice").split(".")
    now = int(time.time())
    forged = b64({"sub": "admin", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60})
    with pytest.raises(Unauthorized):
        await verifier.verify(f"{header}.{forged}.{sig}")


async def test_cached_token_still_expires(verifier: TokenVerifier, keys: KeySet) -> None:
    """A verified token is remembered only until its own expiry (plus the leeway)."""
    token = keys.mint("alice", ttl=2)
    assert (await verifier.verify(token)).subject == "alice"
    assert (await verifier.verify(token)).subject == "alice"  # from the cache
    import asyncio

    await asyncio.sleep(2 + verifier.rules.leeway + 0.2)
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(token)
