"""Access tokens checked by the platform's own verifier (healthplatform.core.tokens)
against the JWKS served over real HTTP; token forgeries; key rotation and encryption."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr
from sqlalchemy import select

from healthplatform.auth.app import create_auth_app
from healthplatform.auth.keys import KeyEncryptor, resolve_key_encryption_key, rotate
from healthplatform.auth.models import SigningKeyRow, utcnow
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.errors import Unauthorized
from healthplatform.core.tokens import JwksCache, TokenVerifier
from healthplatform.settings import Settings
from tests.integration.auth.conftest import AuthClient, open_client
from tests.integration.auth.servers import serve
from tests.integration.auth.softauthn import SoftAuthenticator

pytestmark = pytest.mark.integration

API_DEFAULTS = Settings()  # the Health API's verification defaults


def make_verifier(base_url: str) -> TokenVerifier:
    cache = JwksCache(f"{base_url}/.well-known/jwks.json", min_refresh=0)
    return TokenVerifier(
        cache,
        issuer=API_DEFAULTS.jwt_issuer,
        audience=API_DEFAULTS.jwt_audience,
        algorithms=API_DEFAULTS.jwt_algorithms,
        leeway=5,
    )


@pytest.fixture
async def verifier(auth_url: str) -> AsyncIterator[TokenVerifier]:
    result = make_verifier(auth_url)
    yield result
    await result.jwks.close()


def b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def signed_in(auth: AuthClient, username: str) -> dict[str, Any]:
    return await auth.login(await auth.register(username), username)


async def test_tokens_are_accepted_by_the_platform_verifier(
    auth: AuthClient, verifier: TokenVerifier, username: str
) -> None:
    tokens = await signed_in(auth, username)
    principal = await verifier.verify(tokens["access_token"])
    assert uuid.UUID(principal.subject) and principal.subject != username
    assert isinstance(principal.claims["aud"], str)
    refreshed = await auth.http.post(
        "/token/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert (await verifier.verify(refreshed.json()["access_token"])).subject == principal.subject


async def test_jwks_document(auth_url: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{auth_url}/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=300, stale-if-error=3600, public"
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert {"kty", "use", "kid", "alg"} <= set(key) and key["use"] == "sig"
        assert "d" not in key and "p" not in key  # never private material
        if key["kty"] == "RSA":
            n = unb64(key["n"])
            assert n[0] != 0, "modulus must be minimally encoded"
            assert len(n) * 8 >= 2048 and unb64(key["e"]) == b"\x01\x00\x01"


async def test_forged_tokens_are_refused(
    auth: AuthClient, verifier: TokenVerifier, username: str
) -> None:
    tokens = await signed_in(auth, username)
    good = tokens["access_token"]
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    key = await auth.service.res.keys.signing_key()

    def sign(body: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(
            body, key.private_key, algorithm=key.algorithm, headers={"kid": kid or key.kid}
        )

    now = int(time.time())
    none_token = b64({"alg": "none", "kid": header["kid"]}) + "." + b64(claims) + "."
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = b64({"alg": "HS256", "kid": header["kid"], "typ": "JWT"})
    hs_body = b64(claims)
    hs_sig = (
        base64.urlsafe_b64encode(
            hmac.new(public_pem, f"{hs_header}.{hs_body}".encode(), hashlib.sha256).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    forged = {
        "alg none": none_token,
        "HS256 with the public key": f"{hs_header}.{hs_body}.{hs_sig}",
        "unknown kid": sign(claims, kid="no-such-key"),
        "expired": sign({**claims, "iat": now - 4000, "exp": now - 3000}),
        "wrong audience": sign({**claims, "aud": "another-api"}),
        "audience list without ours": sign({**claims, "aud": ["x", "y"]}),
        "wrong issuer": sign({**claims, "iss": "https://evil.test"}),
        "tampered payload": good.split(".")[0]
        + "."
        + b64({**claims, "sub": "admin"})
        + "."
        + good.split(".")[2],
        "no exp": sign({k: v for k, v in claims.items() if k != "exp"}),
    }
    for name, token in forged.items():
        with pytest.raises(Unauthorized):
            await verifier.verify(token)
            pytest.fail(f"accepted: {name}")
        # the auth service's own endpoints refuse them too
        response = await auth.http.get("/passkeys", headers=auth.bearer(token))
        assert response.status_code == 401, name
    assert (await verifier.verify(good)).subject == claims["sub"]


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
async def test_signing_algorithms(
    fresh_auth_settings: Callable[..., AuthSettings], algorithm: str, username: str
) -> None:
    settings = fresh_auth_settings(algorithm=algorithm)
    with serve(create_auth_app(settings)) as url:
        async for auth in open_client(settings):
            tokens = await signed_in(auth, username)
            assert jwt.get_unverified_header(tokens["access_token"])["alg"] == algorithm
            verifier = make_verifier(url)
            try:
                assert (await verifier.verify(tokens["access_token"])).subject
            finally:
                await verifier.jwks.close()
            jwk = (await auth.http.get("/.well-known/jwks.json")).json()["keys"][0]
            expected = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}
            if algorithm in expected:
                assert (jwk["kty"], jwk["crv"]) == expected[algorithm]
                assert len(unb64(jwk["x"])) == 32


async def kids(url: str) -> dict[str, str]:
    async with httpx.AsyncClient() as client:
        keys = (await client.get(f"{url}/.well-known/jwks.json")).json()["keys"]
    return {k["kid"]: k["alg"] for k in keys}


async def test_key_rotation_lifecycle(
    fresh_auth_settings: Callable[..., AuthSettings], username: str
) -> None:
    settings = fresh_auth_settings(key_reload_seconds=0)
    with serve(create_auth_app(settings)) as url:
        async for auth in open_client(settings):
            device = await auth.register(username)
            old_token = (await auth.login(device))["access_token"]
            first_kid = jwt.get_unverified_header(old_token)["kid"]
            assert list(await kids(url)) == [first_kid]

            assert not (await rotate(settings)).changed  # young key: nothing to do
            staged = await rotate(settings, force=True)
            assert len(staged.created) == 1 and not staged.activated
            pending_kid = staged.created[0]
            assert set(await kids(url)) == {first_kid, pending_kid}  # published first
            token = (await auth.login(device))["access_token"]
            assert jwt.get_unverified_header(token)["kid"] == first_kid  # not signing yet

            early = await rotate(settings)  # publish lead not over yet
            assert not early.activated
            later = utcnow() + timedelta(seconds=settings.key_publish_lead + 1)
            switched = await rotate(settings, now=later)
            assert switched.activated == [pending_kid] and switched.retired == [first_kid]
            token = (await auth.login(device))["access_token"]
            assert jwt.get_unverified_header(token)["kid"] == pending_kid
            assert set(await kids(url)) == {first_kid, pending_kid}  # retired still published
            verifier = make_verifier(url)
            try:
                assert await verifier.verify(old_token)  # earlier tokens keep verifying
                assert await verifier.verify(token)
            finally:
                await verifier.jwks.close()

            much_later = later + timedelta(seconds=settings.key_retention + 1)
            purged = await rotate(settings, now=much_later)
            assert purged.deleted == [first_kid]
            assert list(await kids(url)) == [pending_kid]
            verifier = make_verifier(url)
            try:
                with pytest.raises(Unauthorized, match="unknown kid"):
                    await verifier.verify(old_token)
            finally:
                await verifier.jwks.close()


async def test_private_keys_are_encrypted_at_rest(
    fresh_auth_settings: Callable[..., AuthSettings], username: str
) -> None:
    settings = fresh_auth_settings()
    async for auth in open_client(settings):
        await signed_in(auth, username)
        async with auth.service.res.sessions() as session:
            rows = list(await session.scalars(select(SigningKeyRow)))
    assert rows
    encryptor = KeyEncryptor(resolve_key_encryption_key(settings))
    for row in rows:
        assert row.kek_id == encryptor.kek_id
        with pytest.raises(ValueError):
            serialization.load_der_private_key(row.private_key_encrypted, password=None)
        der = encryptor.decrypt(row.private_key_encrypted, row.kid.encode())
        assert serialization.load_der_private_key(der, password=None)

    # another key encryption key cannot use them: signing answers 503, the JWKS still works
    other = base64.b64encode(b"\x07" * 32).decode()
    wrong = settings.model_copy(update={"key_encryption_key": SecretStr(other)})
    async for auth in open_client(wrong):
        assert (await auth.http.get("/.well-known/jwks.json")).status_code == 200
        device = await auth.register(f"{username}-2")
        request_id, options = await auth.start_login()
        response = await auth.complete("/authenticate/complete", request_id, device.get(options))
        assert response.status_code == 503
        assert "signing key" in response.json()["error"]


async def test_logout_and_devices(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)
    phone = await auth.login(
        device,
        username,
    )
    laptop = await auth.login(device, username)
    listed = await auth.http.get(
        "/devices", headers={**auth.bearer(phone["access_token"]), "User-Agent": "x"}
    )
    assert listed.status_code == 200
    devices = listed.json()["devices"]
    assert len(devices) == 2
    assert sum(d["current"] for d in devices) == 1
    assert {"id", "label", "createdAt", "lastUsedAt", "expiresAt", "current"} <= set(devices[0])

    laptop_sid = jwt.decode(laptop["access_token"], options={"verify_signature": False})["sid"]
    revoked = await auth.http.delete(
        f"/devices/{laptop_sid}", headers=auth.bearer(phone["access_token"])
    )
    assert revoked.status_code == 200
    again = await auth.http.delete(
        f"/devices/{laptop_sid}", headers=auth.bearer(phone["access_token"])
    )
    assert again.status_code == 404
    refresh = await auth.http.post(
        "/token/refresh", json={"refresh_token": laptop["refresh_token"]}
    )
    assert refresh.status_code == 401

    out = await auth.http.post("/logout", headers=auth.bearer(phone["access_token"]))
    assert out.status_code == 200 and out.json()["success"] is True
    refresh = await auth.http.post("/token/refresh", json={"refresh_token": phone["refresh_token"]})
    assert refresh.status_code == 401
    after = await auth.http.get("/devices", headers=auth.bearer(phone["access_token"]))
    assert after.status_code == 401


async def test_devices_of_other_users_cannot_be_revoked(auth: AuthClient, username: str) -> None:
    victim = await signed_in(auth, username)
    mallory = await signed_in(auth, f"{username}-m")
    sid = jwt.decode(victim["access_token"], options={"verify_signature": False})["sid"]
    response = await auth.http.delete(
        f"/devices/{sid}", headers=auth.bearer(mallory["access_token"])
    )
    assert response.status_code == 404
    ok = await auth.http.post("/token/refresh", json={"refresh_token": victim["refresh_token"]})
    assert ok.status_code == 200


def test_soft_authenticator_is_es256() -> None:
    device = SoftAuthenticator(origin="https://health.test")
    credential = device.create(
        {
            "rp": {"id": "health.test", "name": "x"},
            "user": {"id": "AAAA", "name": "u", "displayName": "u"},
            "challenge": "AAAA",
        }
    )
    assert credential["response"]["attestationObject"]
    assert device.credentials[0].private_key.curve.name == "secp256r1"


async def resigned(auth: AuthClient, token: str, **changes: Any) -> str:
    """``token`` with ``changes`` to its claims, signed with the service's own key."""
    claims = jwt.decode(token, options={"verify_signature": False})
    key = await auth.service.res.keys.signing_key()
    return jwt.encode(
        {**claims, **changes}, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid}
    )


async def test_the_service_checks_its_tokens_with_the_configured_leeway(
    auth_settings: AuthSettings, username: str
) -> None:
    settings = auth_settings.model_copy(update={"jwt_leeway_seconds": 120})
    async for auth in open_client(settings):
        good = (await signed_in(auth, username))["access_token"]
        now = int(time.time())
        within = await resigned(auth, good, iat=now - 960, exp=now - 60)
        answer = await auth.http.get("/passkeys", headers=auth.bearer(within))
        assert answer.status_code == 200, answer.text
        beyond = await resigned(auth, good, iat=now - 1200, exp=now - 300)
        answer = await auth.http.get("/passkeys", headers=auth.bearer(beyond))
        assert answer.status_code == 401 and answer.json()["error"] == "invalid token: expired"


async def test_the_service_refuses_an_over_long_subject(auth: AuthClient, username: str) -> None:
    good = (await signed_in(auth, username))["access_token"]
    token = await resigned(auth, good, sub="u" * 256)
    response = await auth.http.get("/passkeys", headers=auth.bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid token: bad subject"
