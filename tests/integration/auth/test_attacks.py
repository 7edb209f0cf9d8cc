"""Each attack on the ceremonies and the refresh tokens is answered 400/401 with
``{"error": ...}`` (never 500) and counted in ``hp_auth_failures_total{reason}``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from healthplatform.auth.settings import AuthSettings
from tests.integration.auth.conftest import ORIGIN, AuthClient, open_client
from tests.integration.auth.softauthn import SoftAuthenticator, b64u

pytestmark = pytest.mark.integration


def failures(reason: str) -> float:
    value = REGISTRY.get_sample_value("hp_auth_failures_total", {"reason": reason})
    return value or 0.0


def assert_refused(response: httpx.Response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert fragment in body["error"], body


async def test_replayed_assertion(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)
    request_id, options = await auth.start_login(username)
    assertion = device.get(options)
    first = await auth.complete("/authenticate/complete", request_id, assertion)
    assert first.status_code == 200
    # same request id: consumed
    again = await auth.complete("/authenticate/complete", request_id, assertion)
    assert_refused(again, 400, "requestId")
    # a fresh ceremony: the captured assertion answers another challenge
    fresh_id, _ = await auth.start_login(username)
    before = failures("challenge")
    replay = await auth.complete("/authenticate/complete", fresh_id, assertion)
    assert_refused(replay, 401, "challenge")
    assert failures("challenge") == before + 1


async def test_registration_challenge_is_single_use(auth: AuthClient, username: str) -> None:
    request_id, options = await auth.start_registration(username)
    credential = SoftAuthenticator(origin=ORIGIN).create(options)
    assert (await auth.complete("/register/complete", request_id, credential)).status_code == 200
    before = failures("request_id")
    again = await auth.complete("/register/complete", request_id, credential)
    assert_refused(again, 400, "requestId")
    assert failures("request_id") == before + 1


async def test_request_id_of_another_ceremony_kind(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)
    request_id, options = await auth.start_login(username)
    response = await auth.complete("/register/complete", request_id, device.get(options))
    assert_refused(response, 400, "requestId")


async def test_unknown_request_id(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)
    _, options = await auth.start_login(username)
    response = await auth.complete("/authenticate/complete", "x" * 43, device.get(options))
    assert_refused(response, 400, "requestId")


async def test_wrong_rp_id_hash(auth: AuthClient, username: str) -> None:
    request_id, options = await auth.start_registration(username)
    evil = SoftAuthenticator(origin=ORIGIN)
    response = await auth.complete(
        "/register/complete", request_id, evil.create(options, rp_id="evil.test")
    )
    assert_refused(response, 400, "rp_id")

    device = await auth.register(username)
    request_id, options = await auth.start_login(username)
    before = failures("rp_id")
    response = await auth.complete(
        "/authenticate/complete", request_id, device.get(options, rp_id="evil.test")
    )
    assert_refused(response, 401, "rp_id")
    assert failures("rp_id") == before + 1


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.test",
        "https://health.test.evil.test",
        "http://health.test",  # downgraded scheme
        "https://health.test:8444",  # another port (allow_any_port is off)
        "android:apk-key-hash:" + "A" * 43,  # an unknown app
        "null",
    ],
)
async def test_wrong_origin(auth: AuthClient, username: str, origin: str) -> None:
    request_id, options = await auth.start_registration(username)
    response = await auth.complete(
        "/register/complete", request_id, SoftAuthenticator(origin=origin).create(options)
    )
    assert_refused(response, 400, "origin")

    device = await auth.register(username)
    request_id, options = await auth.start_login(username)
    before = failures("origin")
    response = await auth.complete(
        "/authenticate/complete", request_id, device.get(options, origin=origin)
    )
    assert_refused(response, 401, "origin")
    assert failures("origin") == before + 1


async def test_cross_origin_iframe_refused(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)
    request_id, options = await auth.start_login(username)
    client_data = device.client_data(
        "webauthn.get", options["challenge"], crossOrigin=True, topOrigin="https://evil.test"
    )
    response = await auth.complete(
        "/authenticate/complete", request_id, device.get(options, client_data=client_data)
    )
    assert_refused(response, 401, "cross-origin")


async def test_tampered_client_data(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)

    def add_field(data: bytes) -> bytes:  # signed data no longer matches
        parsed = json.loads(data)
        parsed["extra"] = "tampered"
        return json.dumps(parsed).encode()

    request_id, options = await auth.start_login(username)
    before = failures("signature")
    response = await auth.complete(
        "/authenticate/complete", request_id, device.get(options, tamper=add_field)
    )
    assert_refused(response, 401, "signature")
    assert failures("signature") == before + 1

    request_id, options = await auth.start_login(username)
    response = await auth.complete(
        "/authenticate/complete",
        request_id,
        device.get(options, tamper=lambda data: data.replace(b"webauthn.get", b"webauthn.create")),
    )
    assert_refused(response, 401)

    request_id, options = await auth.start_login(username)
    response = await auth.complete(
        "/authenticate/complete", request_id, device.get(options, tamper=lambda d: d[:-1])
    )
    assert_refused(response, 401, "malformed")


async def test_counter_regression_is_refused_and_logged(
    auth: AuthClient, username: str, caplog: pytest.LogCaptureFixture
) -> None:
    device = await auth.register(username)
    await auth.login(device, username, counter=10)
    clone = device.credentials[0]
    request_id, options = await auth.start_login(username)
    before = failures("counter")
    with caplog.at_level(logging.WARNING, logger="healthplatform.auth.service"):
        response = await auth.complete(
            "/authenticate/complete", request_id, device.get(options, credential=clone, counter=5)
        )
    assert_refused(response, 401, "counter")
    assert failures("counter") == before + 1
    assert "possible cloned authenticator" in caplog.text
    # an equal (non-zero) counter is refused too; a higher one still works
    request_id, options = await auth.start_login(username)
    same = await auth.complete(
        "/authenticate/complete", request_id, device.get(options, counter=10)
    )
    assert_refused(same, 401, "counter")
    await auth.login(device, username, counter=11)


async def test_user_verification_policy(fresh_auth_settings: Any, username: str) -> None:
    settings: AuthSettings = fresh_auth_settings(user_verification="required")
    async for auth in open_client(settings):
        request_id, options = await auth.start_registration(username)
        assert options["authenticatorSelection"]["userVerification"] == "required"
        no_uv = SoftAuthenticator(origin=ORIGIN, user_verified=False)
        response = await auth.complete("/register/complete", request_id, no_uv.create(options))
        assert_refused(response, 400, "user_verification")

        device = await auth.register(username)
        request_id, options = await auth.start_login(username)
        assert options["userVerification"] == "required"
        response = await auth.complete(
            "/authenticate/complete", request_id, device.get(options, uv=False)
        )
        assert_refused(response, 401, "user_verification")


async def test_usernameless_login_needs_the_matching_user_handle(
    auth: AuthClient, username: str
) -> None:
    device = await auth.register(username)
    other = await auth.register(f"{username}-other")
    request_id, options = await auth.start_login()
    response = await auth.complete(
        "/authenticate/complete", request_id, device.get(options, user_handle=None)
    )
    assert_refused(response, 401, "userHandle")
    request_id, options = await auth.start_login()
    response = await auth.complete(
        "/authenticate/complete",
        request_id,
        device.get(options, user_handle=other.credentials[0].user_handle),
    )
    assert_refused(response, 401)


async def test_credential_of_another_user_for_a_named_login(
    auth: AuthClient, username: str
) -> None:
    await auth.register(username)
    mallory = await auth.register(f"{username}-mallory")
    request_id, options = await auth.start_login(username)  # victim's ceremony
    response = await auth.complete(
        "/authenticate/complete",
        request_id,
        mallory.get(options, credential=mallory.credentials[0]),
    )
    assert_refused(response, 401, "authentication failed")


async def test_unknown_credential(auth: AuthClient, username: str) -> None:
    await auth.register(username)
    stranger = SoftAuthenticator(origin=ORIGIN)
    stranger.create({**(await auth.start_registration(f"{username}-x"))[1]})  # never completed
    request_id, options = await auth.start_login()
    response = await auth.complete("/authenticate/complete", request_id, stranger.get(options))
    assert_refused(response, 401, "authentication failed")


@pytest.fixture
async def short_ttl(auth_settings: AuthSettings) -> AsyncIterator[AuthClient]:
    async for client in open_client(auth_settings.model_copy(update={"challenge_ttl": 1})):
        yield client


async def test_expired_request_id(short_ttl: AuthClient, username: str) -> None:
    request_id, options = await short_ttl.start_registration(username)
    credential = SoftAuthenticator(origin=ORIGIN).create(options)
    await asyncio.sleep(1.2)
    response = await short_ttl.complete("/register/complete", request_id, credential)
    assert_refused(response, 400, "expired")


async def test_oversized_body(auth: AuthClient) -> None:
    big = {"requestId": "x", "credential": "A" * (auth.settings.max_body_bytes + 1)}
    before = failures("too_large")
    response = await auth.http.post("/register/complete", json=big)
    assert_refused(response, 400, "too large")

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"requestId": "x", "credential": "'
        for _ in range(auth.settings.max_body_bytes // 1024 + 1):
            yield b"A" * 1024
        yield b'"}'

    response = await auth.http.post(
        "/authenticate/complete", content=streamed(), headers={"content-type": "application/json"}
    )
    assert_refused(response, 400, "too large")
    assert failures("too_large") == before + 2


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"null",
        b'{"requestId": 5, "credential": "{}"}',
        b'{"requestId": "x"}',
        b'{"requestId": "' + b"x" * 500 + b'", "credential": "{}"}',
        b'{"requestId": "x", "credential": "{not json"}',
        b'{"requestId": "x", "credential": 12}',
        "\udcff".encode("utf-8", "surrogatepass"),
    ],
)
async def test_malformed_json(auth: AuthClient, body: bytes) -> None:
    for path in ("/register/complete", "/authenticate/complete", "/register/start"):
        response = await auth.http.post(
            path, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (path, body, response.text)
        assert set(response.json()) == {"error"}


@pytest.mark.parametrize(
    "credential",
    [
        "{}",
        json.dumps({"id": "abc", "rawId": "abc", "type": "public-key", "response": {}}),
        json.dumps(
            {
                "id": "!!",
                "rawId": "!!",
                "type": "public-key",
                "response": {
                    "clientDataJSON": "%%%",
                    "authenticatorData": "$$",
                    "signature": "x",
                    "attestationObject": "@@",
                },
            }
        ),
        json.dumps(
            {
                "id": "AAAA",
                "rawId": "AAAA",
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64u(
                        b'{"type":"webauthn.get","origin":"https://health.test","challenge":"x"}'
                    ),
                    "authenticatorData": b64u(b"\x00" * 10),
                    "signature": b64u(b"\x00"),
                    "attestationObject": b64u(b"\xff\xff"),
                },
            }
        ),
    ],
)
async def test_garbage_credentials_never_500(
    auth: AuthClient, username: str, credential: str
) -> None:
    for path in ("/register/complete", "/authenticate/complete"):
        if path == "/register/complete":
            request_id, _ = await auth.start_registration(username)
        else:
            request_id, _ = await auth.start_login()
        response = await auth.http.post(
            path, json={"requestId": request_id, "credential": credential}
        )
        assert response.status_code in (400, 401), (path, response.text)
        assert set(response.json()) == {"error"}


async def test_refresh_token_rotation_and_reuse(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)
    tokens = await auth.login(device, username)
    first = tokens["refresh_token"]
    rotated = await auth.http.post("/token/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["refresh_token"] != first and body["access_token"] != tokens["access_token"]
    assert body["token_type"] == "Bearer" and body["username"] == username
    second = body["refresh_token"]

    before = failures("refresh_reuse")
    reuse = await auth.http.post("/token/refresh", json={"refresh_token": first})
    assert_refused(reuse, 401, "reuse")
    assert failures("refresh_reuse") == before + 1
    # the whole family is revoked: the newest token and its access token die too
    assert_refused(
        await auth.http.post("/token/refresh", json={"refresh_token": second}), 401, "revoked"
    )
    devices = await auth.http.get("/devices", headers=auth.bearer(body["access_token"]))
    assert devices.status_code == 401
    # other devices of the same user are untouched
    other = await auth.login(device, username)
    ok = await auth.http.post("/token/refresh", json={"refresh_token": other["refresh_token"]})
    assert ok.status_code == 200


async def test_unknown_and_garbage_refresh_tokens(auth: AuthClient) -> None:
    for token in ("hprt_" + "A" * 43, "x", "\u00e9" * 10):
        response = await auth.http.post("/token/refresh", json={"refresh_token": token})
        assert_refused(response, 401)
    response = await auth.http.post("/token/refresh", json={"refresh_token": "x" * 1000})
    assert_refused(response, 400)
