"""Auth settings, origin policy, JWK encoding, key encryption, challenge store and tokens
(no servers needed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt
import pytest
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from healthplatform.auth.challenges import Ceremony, MemoryChallengeStore
from healthplatform.auth.keys import (
    KeyEncryptor,
    SigningKey,
    _uint,
    b64url,
    generate_private_key,
    jwk_thumbprint,
    public_jwk,
    resolve_key_encryption_key,
)
from healthplatform.auth.origins import OriginPolicy
from healthplatform.auth.schemas import AuthenticateStartRequest, RegisterStartRequest
from healthplatform.auth.settings import (
    AuthSettings,
    SigningAlgorithm,
    fingerprint_to_apk_key_hash,
    reference_table,
)
from healthplatform.auth.tokens import hash_refresh_token, issue_access_token, new_refresh_token
from healthplatform.core.errors import DependencyUnavailable

KEK = base64.b64encode(bytes(range(32))).decode()
FINGERPRINT = ":".join(["AB"] * 32)


# --- settings ------------------------------------------------------------------------------


def test_every_setting_is_documented() -> None:
    for name, field in AuthSettings.model_fields.items():
        assert field.description, f"HP_AUTH_{name.upper()} has no description"
    table = reference_table()
    assert "`HP_AUTH_RP_ID`" in table and "`HP_AUTH_KEY_ENCRYPTION_KEY`" in table


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HP_AUTH_RP_ID", "health.example.com")
    monkeypatch.setenv(
        "HP_AUTH_ALLOWED_ORIGINS", "https://health.example.com, https://app.health.example.com"
    )
    monkeypatch.setenv("HP_AUTH_ANDROID_PACKAGE_NAME", "org.example")
    monkeypatch.setenv("HP_AUTH_ANDROID_CERT_FINGERPRINTS", FINGERPRINT.lower())
    monkeypatch.setenv("HP_AUTH_ALGORITHM", "EdDSA")
    monkeypatch.setenv("HP_AUTH_USER_VERIFICATION", "required")
    settings = AuthSettings()
    assert settings.web_origins == ["https://health.example.com", "https://app.health.example.com"]
    assert settings.android_cert_fingerprints == [FINGERPRINT]
    assert settings.algorithm is SigningAlgorithm.EdDSA
    assert settings.user_verification == "required"
    assert settings.issuer == "healthplatform-auth" and settings.audience == "healthplatform-api"
    assert settings.access_token_ttl == 900


def test_defaults_are_local() -> None:
    settings = AuthSettings()
    assert settings.resolved_database_url.endswith("/auth.db")
    assert settings.web_origins == ["https://localhost", "http://localhost"]


def test_key_encryption_key_required_outside_local_runs() -> None:
    with pytest.raises(ValidationError, match="KEY_ENCRYPTION_KEY is required"):
        AuthSettings(environment="production")
    assert AuthSettings(environment="production", key_encryption_key=KEK)
    with pytest.raises(ValidationError, match="32 bytes"):
        AuthSettings(key_encryption_key=base64.b64encode(b"short").decode())
    with pytest.raises(ValidationError, match="base64"):
        AuthSettings(key_encryption_key="not base64 at all!")


@pytest.mark.parametrize(
    "origin",
    [
        "http://health.example.com",  # plain http outside localhost
        "https://evil.example.net",  # outside the rp id
        "https://health.example.com/login",  # a path is not an origin
        "ftp://health.example.com",
        "android:apk-key-hash:short",
    ],
)
def test_bad_origins_are_refused(origin: str) -> None:
    with pytest.raises(ValidationError):
        AuthSettings(rp_id="health.example.com", allowed_origins=[origin])


def test_android_settings_go_together() -> None:
    with pytest.raises(ValidationError, match="go together"):
        AuthSettings(android_package_name="org.example")
    with pytest.raises(ValidationError, match="fingerprint"):
        AuthSettings(android_package_name="org.example", android_cert_fingerprints=["AB:CD"])


def test_retired_keys_outlive_access_tokens() -> None:
    with pytest.raises(ValidationError, match="KEY_RETENTION"):
        AuthSettings(access_token_ttl=900, key_retention=600)


def test_fingerprint_to_apk_key_hash() -> None:
    origin = fingerprint_to_apk_key_hash(FINGERPRINT)
    raw = bytes([0xAB] * 32)
    assert origin == "android:apk-key-hash:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- origins -------------------------------------------------------------------------------


def test_origin_policy_exact() -> None:
    policy = OriginPolicy(
        AuthSettings(
            rp_id="health.example.com",
            allowed_origins=["https://health.example.com", "https://app.health.example.com:8443"],
            android_package_name="org.example",
            android_cert_fingerprints=[FINGERPRINT],
        )
    )
    assert policy.allows("https://health.example.com")
    assert policy.allows("https://health.example.com:443")
    assert policy.allows("https://app.health.example.com:8443")
    assert policy.allows(fingerprint_to_apk_key_hash(FINGERPRINT))
    for refused in (
        "https://app.health.example.com",
        "https://health.example.com:8443",
        "http://health.example.com",
        "https://evil.example.com",
        "https://health.example.com.evil.net",
        "https://user@health.example.com",
        "android:apk-key-hash:" + "A" * 43,
        "https://health.example.com:99999",
        "",
        "null",
    ):
        assert not policy.allows(refused), refused


def test_origin_policy_any_port() -> None:
    policy = OriginPolicy(AuthSettings(allow_any_port=True))
    assert policy.allows("http://localhost:5173")
    assert policy.allows("https://localhost:8443")
    assert not policy.allows("http://127.0.0.1:5173")
    assert not policy.allows("http://localhost.evil.net:80")


# --- keys ----------------------------------------------------------------------------------


def test_uint_is_minimal() -> None:
    assert _uint(65537) == "AQAB"
    assert base64.urlsafe_b64decode(_uint(0x80FF) + "==") == b"\x80\xff"  # no 0x00 in front
    assert _uint(0) == "AA"


def test_rfc7638_thumbprint_example() -> None:
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
        "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-6"
        "5YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyr"
        "dkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKn"
        "qDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("algorithm", list(SigningAlgorithm))
def test_public_jwk_round_trips_through_pyjwt(algorithm: SigningAlgorithm) -> None:
    private_key = generate_private_key(algorithm)
    jwk = public_jwk(private_key, algorithm)
    assert jwk["alg"] == algorithm.value and jwk["use"] == "sig"
    assert jwk["kid"] == jwk_thumbprint(jwk)
    key = SigningKey(jwk["kid"], algorithm.value, private_key)
    settings = AuthSettings(algorithm=algorithm)
    issued = issue_access_token(key, settings, subject="user-1", session_id="s-1")
    verifying = jwt.PyJWK(jwk)
    assert verifying.algorithm_name == algorithm.value
    claims = jwt.decode(
        issued.token,
        key=verifying,
        algorithms=[algorithm.value],
        audience="healthplatform-api",
        issuer="healthplatform-auth",
    )
    assert claims["sub"] == "user-1" and claims["sid"] == "s-1"
    assert jwt.get_unverified_header(issued.token)["kid"] == jwk["kid"]


def test_key_encryptor() -> None:
    encryptor = KeyEncryptor(bytes(32))
    blob = encryptor.encrypt(b"secret key", b"kid-1")
    assert b"secret key" not in blob
    assert encryptor.decrypt(blob, b"kid-1") == b"secret key"
    with pytest.raises(InvalidTag):
        encryptor.decrypt(blob, b"kid-2")  # bound to its row
    with pytest.raises(InvalidTag):
        KeyEncryptor(bytes([1] * 32)).decrypt(blob, b"kid-1")
    assert encryptor.kek_id != KeyEncryptor(bytes([1] * 32)).kek_id
    assert encryptor.derive("a") != encryptor.derive("b")


def test_local_key_encryption_key_is_generated_once(tmp_path: Path) -> None:
    settings = AuthSettings(data_dir=tmp_path)
    first = resolve_key_encryption_key(settings)
    assert resolve_key_encryption_key(settings) == first and len(first) == 32
    assert (tmp_path / "auth-kek.key").stat().st_mode & 0o077 == 0


# --- challenges and tokens ------------------------------------------------------------------


async def test_memory_challenges_are_single_use_and_expire() -> None:
    now = [0.0]
    store = MemoryChallengeStore(max_entries=2, clock=lambda: now[0])
    ceremony = Ceremony(kind="authenticate", challenge=b64url(b"c"), username="u")
    await store.put("a", ceremony.dumps(), ttl=300)
    raw = await store.take("a")
    assert raw is not None and Ceremony.loads(raw) == ceremony
    assert await store.take("a") is None
    await store.put("b", "x", ttl=300)
    now[0] = 301
    assert await store.take("b") is None
    await store.put("c", "x", ttl=300)
    await store.put("d", "x", ttl=300)
    with pytest.raises(DependencyUnavailable, match="challenge store"):
        await store.put("e", "x", ttl=300)


def test_refresh_tokens_are_random_and_hashed() -> None:
    first, second = new_refresh_token(), new_refresh_token()
    assert first != second and len(first) > 40
    digest = hash_refresh_token(first)
    assert len(digest) == 64 and first not in digest
    assert json.dumps(digest)


def test_auth_doc_lists_every_setting() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs/auth.md").read_text()
    assert reference_table() in doc, "update the settings table in docs/auth.md"


def test_request_normalisation() -> None:
    assert AuthenticateStartRequest.model_validate({"username": "  "}).username is None
    assert AuthenticateStartRequest.model_validate({"username": " Bob "}).username == "bob"
    start = RegisterStartRequest.model_validate({"username": "Ann", "displayName": ""})
    assert start.display_name is None
    with pytest.raises(ValidationError):
        RegisterStartRequest.model_validate({"username": "a\u0000b"})
    with pytest.raises(ValidationError):
        RegisterStartRequest.model_validate({"username": "x" * 65})
