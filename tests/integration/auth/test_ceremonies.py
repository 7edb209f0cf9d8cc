"""Registration and login ceremonies end to end with a software authenticator, on the
embedded backends and on PostgreSQL + Redis."""

from __future__ import annotations

import uuid

import jwt
import pytest
from sqlalchemy import select

from healthplatform.auth.models import Credential, User
from tests.integration.auth.conftest import APP_ORIGIN, ORIGIN, RP_ID, AuthClient
from tests.integration.auth.softauthn import SoftAuthenticator, unb64u

pytestmark = pytest.mark.integration


def assert_base64url(value: str) -> None:
    assert value and "=" not in value and "+" not in value and "/" not in value


async def test_register_then_login_with_username(auth: AuthClient, username: str) -> None:
    request_id, options = await auth.start_registration(username.upper(), "Alice Example")
    assert_base64url(request_id)
    assert options["rp"] == {"id": RP_ID, "name": "Health Platform (tests)"}
    assert options["user"]["name"] == username  # normalised (lower case)
    assert options["user"]["displayName"] == "Alice Example"
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert {p["alg"] for p in options["pubKeyCredParams"]} == {-7, -8, -257}
    assert options["timeout"] == 300_000
    for value in (options["challenge"], options["user"]["id"]):
        assert_base64url(value)
    device = SoftAuthenticator(origin=ORIGIN)
    done = await auth.complete("/register/complete", request_id, device.create(options))
    assert done.status_code == 200, done.text
    assert done.json()["success"] is True and done.json()["message"]

    tokens = await auth.login(device, username)
    assert tokens["success"] is True
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["username"] == username
    assert tokens["refresh_token"].startswith("hprt_")
    assert tokens["refresh_expires_in"] == auth.settings.refresh_token_ttl
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert uuid.UUID(claims["sub"])  # opaque, stable, not the username
    assert claims["sub"] != username
    assert claims["aud"] == "healthplatform-api" and claims["iss"] == "healthplatform-auth"
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"]
    assert jwt.get_unverified_header(tokens["access_token"])["kid"]

    again = await auth.login(device, username)  # the same stable subject every time
    second = jwt.decode(again["access_token"], options={"verify_signature": False})
    assert second["sub"] == claims["sub"] and second["jti"] != claims["jti"]


async def test_usernameless_login_with_a_discoverable_credential(
    auth: AuthClient, username: str
) -> None:
    device = await auth.register(username)
    request_id, options = await auth.start_login()
    assert options["allowCredentials"] == []
    assert options["rpId"] == RP_ID
    response = await auth.complete("/authenticate/complete", request_id, device.get(options))
    assert response.status_code == 200, response.text
    assert response.json()["username"] == username


async def test_login_from_a_subdomain_origin_with_a_port(auth: AuthClient, username: str) -> None:
    device = await auth.register(username, SoftAuthenticator(origin=APP_ORIGIN))
    assert (await auth.login(device, username))["username"] == username


async def test_signature_counter_is_stored_after_every_login(
    auth: AuthClient, username: str
) -> None:
    device = await auth.register(username)
    for _ in range(3):
        await auth.login(device)
    async with auth.service.res.sessions() as session:
        row = await session.scalar(
            select(Credential).where(
                Credential.credential_id == device.credentials[0].credential_id
            )
        )
    assert row is not None and row.sign_count == 3 and row.last_used_at is not None


async def test_zero_counter_authenticators_keep_working(auth: AuthClient, username: str) -> None:
    """Authenticators that never count (always 0, like synced passkeys) are fine."""
    device = await auth.register(username, SoftAuthenticator(origin=ORIGIN, counter_step=0))
    await auth.login(device, username)
    await auth.login(device, username)


async def test_username_already_taken(auth: AuthClient, username: str) -> None:
    first_id, first = await auth.start_registration(username)
    second_id, second = await auth.start_registration(username)  # both started, none done
    ok = await auth.complete(
        "/register/complete", first_id, SoftAuthenticator(ORIGIN).create(first)
    )
    assert ok.status_code == 200
    late = await auth.complete(
        "/register/complete", second_id, SoftAuthenticator(ORIGIN).create(second)
    )
    assert late.status_code == 409 and "already" in late.json()["error"]  # the old contract
    again = await auth.http.post("/register/start", json={"username": username})
    assert again.status_code == 409 and again.json() == {"error": "username already registered"}


async def test_user_handles_are_random_and_credentials_never_leak(auth: AuthClient) -> None:
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    alice_device = await auth.register(alice)
    bob_device = await auth.register(bob)
    alice_handle = alice_device.credentials[0].user_handle
    bob_handle = bob_device.credentials[0].user_handle
    assert len(alice_handle) == 32 and alice_handle != bob_handle
    assert alice.encode() not in alice_handle

    _, alice_options = await auth.start_login(alice)
    _, bob_options = await auth.start_login(bob)
    alice_ids = {unb64u(c["id"]) for c in alice_options["allowCredentials"]}
    bob_ids = {unb64u(c["id"]) for c in bob_options["allowCredentials"]}
    assert alice_ids == {alice_device.credentials[0].credential_id}
    assert bob_ids == {bob_device.credentials[0].credential_id}

    async with auth.service.res.sessions() as session:
        users = {
            u.username: u
            for u in await session.scalars(select(User).where(User.username.in_([alice, bob])))
        }
    assert users[alice].user_handle == alice_handle
    assert str(users[alice].id) not in (alice, bob)


async def test_unknown_username_gets_stable_decoy_options(auth: AuthClient) -> None:
    """No account enumeration: an unknown name looks like a known one."""
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    _, first = await auth.start_login(ghost)
    _, second = await auth.start_login(ghost)
    assert first["allowCredentials"] == second["allowCredentials"]  # stable
    assert 1 <= len(first["allowCredentials"]) <= 2  # like most real accounts
    for entry in first["allowCredentials"]:  # shaped like a real passkey's descriptor
        assert set(entry) == {"id", "type", "transports"} and entry["transports"]


async def test_several_passkeys_per_user(auth: AuthClient, username: str) -> None:
    phone = await auth.register(username)
    tokens = await auth.login(phone, username)
    headers = auth.bearer(tokens["access_token"])

    laptop = SoftAuthenticator(origin=ORIGIN)
    start = await auth.http.post("/passkeys/register/start", json={}, headers=headers)
    options = start.json()["publicKeyCredentialCreationOptions"]["publicKey"]
    assert [unb64u(c["id"]) for c in options["excludeCredentials"]] == [
        phone.credentials[0].credential_id
    ]
    assert unb64u(options["user"]["id"]) == phone.credentials[0].user_handle  # same account
    with pytest.raises(RuntimeError, match="InvalidStateError"):
        phone.create(options)  # the browser refuses a second passkey on the same device
    added = await auth.complete(
        "/passkeys/register/complete",
        start.json()["requestId"],
        laptop.create(options),
        headers=headers,
    )
    assert added.status_code == 200, added.text
    laptop_id = added.json()["passkeyId"]

    listed = (await auth.http.get("/passkeys", headers=headers)).json()["passkeys"]
    assert len(listed) == 2 and {p["id"] for p in listed} >= {laptop_id}
    assert {"id", "name", "createdAt", "lastUsedAt", "backedUp", "transports"} <= set(listed[0])

    laptop_tokens = await auth.login(laptop, username)  # both log in to the same account
    assert laptop_tokens["username"] == username
    _, options = await auth.start_login(username)
    assert len(options["allowCredentials"]) == 2

    removed = await auth.http.delete(f"/passkeys/{laptop_id}", headers=headers)
    assert removed.status_code == 200, removed.text
    # the session signed in with the removed passkey ends with it
    gone = await auth.http.get("/passkeys", headers=auth.bearer(laptop_tokens["access_token"]))
    assert gone.status_code == 401
    refresh = await auth.http.post(
        "/token/refresh", json={"refresh_token": laptop_tokens["refresh_token"]}
    )
    assert refresh.status_code == 401

    phone_id = (await auth.http.get("/passkeys", headers=headers)).json()["passkeys"][0]["id"]
    last = await auth.http.delete(f"/passkeys/{phone_id}", headers=headers)
    assert last.status_code == 400 and "last passkey" in last.json()["error"]
    unknown = await auth.http.delete(f"/passkeys/{uuid.uuid4()}", headers=headers)
    assert unknown.status_code == 404 and "error" in unknown.json()


async def test_passkey_of_another_user_cannot_be_removed(auth: AuthClient, username: str) -> None:
    mallory = await auth.register(f"mallory-{uuid.uuid4().hex[:8]}")
    mallory_tokens = await auth.login(mallory)
    victim = await auth.register(username)
    victim_tokens = await auth.login(victim)
    await auth.add_passkey(victim_tokens["access_token"], SoftAuthenticator(origin=ORIGIN))
    victim_keys = (
        await auth.http.get("/passkeys", headers=auth.bearer(victim_tokens["access_token"]))
    ).json()["passkeys"]
    response = await auth.http.delete(
        f"/passkeys/{victim_keys[0]['id']}", headers=auth.bearer(mallory_tokens["access_token"])
    )
    assert response.status_code == 404


async def test_passkey_limit(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)
    token = (await auth.login(device))["access_token"]
    for _ in range(auth.settings.max_passkeys_per_user - 1):
        response = await auth.add_passkey(token, SoftAuthenticator(origin=ORIGIN))
        assert response.status_code == 200
    refused = await auth.http.post("/passkeys/register/start", headers=auth.bearer(token))
    assert refused.status_code == 400 and "limit" in refused.json()["error"]


async def test_account_endpoints_need_a_valid_token(auth: AuthClient) -> None:
    for method, path in (
        ("GET", "/passkeys"),
        ("POST", "/passkeys/register/start"),
        ("DELETE", f"/passkeys/{uuid.uuid4()}"),
        ("GET", "/devices"),
        ("POST", "/logout"),
        ("DELETE", "/account"),
    ):
        for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic x"}):
            response = await auth.http.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert "error" in response.json()
