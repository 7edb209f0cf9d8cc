"""Abuse limits of the public sign-in endpoints (issue 17 item 2): a flood from one client
gets 429 with Retry-After and never locks anyone else out (no 503); per-username limits on
the ``*/start`` calls; a per-client quota of pending ceremonies. Embedded and Redis."""

from __future__ import annotations

import ipaddress
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from healthplatform.auth.challenges import MemoryChallengeStore
from healthplatform.auth.limits import client_address, client_key
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.errors import DependencyUnavailable, TooManyRequests
from tests.integration.auth.conftest import ORIGIN, AuthClient, open_client
from tests.integration.auth.softauthn import SoftAuthenticator

pytestmark = pytest.mark.integration
FLOOD = 3000


def random_ip() -> str:
    return str(ipaddress.IPv4Address(random.randint(0x0B000001, 0xDEFFFFFE)))


def limited(settings: AuthSettings, **overrides: Any) -> AuthSettings:
    """The production defaults of the limits (the fixtures' settings raise them), behind
    one trusted proxy: the client is the rightmost ``X-Forwarded-For`` entry."""
    defaults = {
        name: AuthSettings.model_fields[name].default
        for name in (
            "rate_limit_ip_per_minute",
            "rate_limit_ip_burst",
            "rate_limit_username_per_minute",
            "rate_limit_username_burst",
            "max_pending_ceremonies_per_ip",
        )
    }
    return settings.model_copy(update={**defaults, "trusted_proxy_hops": 1, **overrides})


async def client_for(settings: AuthSettings) -> AsyncIterator[AuthClient]:
    async for auth in open_client(settings):
        yield auth


def via(ip: str, spoofed: str | None = None) -> dict[str, str]:
    """What the gateway sends: whatever the client claimed, then the address it saw."""
    return {"X-Forwarded-For": f"{spoofed}, {ip}" if spoofed else ip}


def assert_429(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json() == {"error": "rate limit exceeded"}
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 600
    return retry_after


async def test_flood_from_one_ip_does_not_lock_out_another(auth_settings: AuthSettings) -> None:
    settings = limited(auth_settings)
    attacker, victim = random_ip(), random_ip()
    async for auth in client_for(settings):
        statuses: Counter[int] = Counter()
        retry_after: set[str] = set()
        started = time.monotonic()
        for i in range(FLOOD):
            response = await auth.http.post(
                "/register/start",
                json={"username": f"flood-{uuid.uuid4().hex[:10]}"},
                headers=via(attacker, spoofed=random_ip() if i % 2 else None),
            )
            statuses[response.status_code] += 1
            if response.status_code == 429:
                retry_after.add(response.headers.get("Retry-After", ""))
        took = time.monotonic() - started
        assert set(statuses) == {200, 429}, statuses
        # at most the pending-ceremony quota got through (the IP burst is larger)
        assert statuses[200] <= settings.max_pending_ceremonies_per_ip, statuses
        assert statuses[429] >= FLOOD - settings.max_pending_ceremonies_per_ip
        assert retry_after and all(v.isdigit() and int(v) >= 1 for v in retry_after)
        print(f"\nflood of {FLOOD} from one IP in {took:.1f} s: {dict(statuses)}")

        # another client registers and signs in as if nothing happened
        device = SoftAuthenticator(origin=ORIGIN)
        name = f"victim-{uuid.uuid4().hex[:10]}"
        start = await auth.http.post(
            "/register/start", json={"username": name}, headers=via(victim)
        )
        assert start.status_code == 200, start.text
        data = start.json()
        options = data["publicKeyCredentialCreationOptions"]["publicKey"]
        done = await auth.complete(
            "/register/complete", data["requestId"], device.create(options), headers=via(victim)
        )
        assert done.status_code == 200, done.text
        login = await auth.http.post(
            "/authenticate/start", json={"username": name}, headers=via(victim)
        )
        assert login.status_code == 200, login.text
        body = login.json()
        signed_in = await auth.complete(
            "/authenticate/complete",
            body["requestId"],
            device.get(body["publicKeyCredentialRequestOptions"]["publicKey"]),
            headers=via(victim),
        )
        assert signed_in.status_code == 200, signed_in.text
        # the attacker is still refused (the limit is per client, not global)
        again = await auth.http.post(
            "/authenticate/start", json={"username": name}, headers=via(attacker)
        )
        assert_429(again)


async def test_ip_limit_on_ceremonies_and_refresh(auth_settings: AuthSettings) -> None:
    settings = limited(auth_settings, rate_limit_ip_per_minute=1, rate_limit_ip_burst=4)
    ip = random_ip()
    async for auth in client_for(settings):
        for path, body in (
            ("/token/refresh", {"refresh_token": "hprt_" + "x" * 43}),
            ("/authenticate/complete", {"requestId": "r" * 43, "credential": "{}"}),
            ("/authenticate/start", {}),
        ):
            statuses = []
            for _ in range(8):
                response = await auth.http.post(path, json=body, headers=via(ip))
                statuses.append(response.status_code)
            assert 429 in statuses, (path, statuses)
            assert statuses.index(429) >= 4, statuses  # the burst first
            assert_429(response)
            exhausted, ip = ip, random_ip()  # a fresh budget for the next path
        # a refused client's bad input is not even parsed: 429, not 400
        assert_429(await auth.http.post("/register/start", json={}, headers=via(exhausted)))


async def test_username_limit(auth_settings: AuthSettings, username: str) -> None:
    settings = limited(auth_settings, rate_limit_username_per_minute=1, rate_limit_username_burst=2)
    async for auth in client_for(settings):
        statuses = []
        for _ in range(6):  # each from another address: the username is the key
            response = await auth.http.post(
                "/authenticate/start", json={"username": username}, headers=via(random_ip())
            )
            statuses.append(response.status_code)
        assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429, statuses
        assert_429(response)
        register = await auth.http.post(
            "/register/start", json={"username": username}, headers=via(random_ip())
        )
        assert_429(register)
        # usernameless sign-in does not name anyone, so the limit cannot block it
        free = await auth.http.post("/authenticate/start", json={}, headers=via(random_ip()))
        assert free.status_code == 200, free.text


async def test_pending_quota_frees_on_completion(auth_settings: AuthSettings) -> None:
    settings = limited(auth_settings, max_pending_ceremonies_per_ip=3)
    ip = random_ip()
    async for auth in client_for(settings):
        started = []
        for _ in range(3):
            response = await auth.http.post(
                "/register/start", json={"username": f"p-{uuid.uuid4().hex[:10]}"}, headers=via(ip)
            )
            assert response.status_code == 200, response.text
            started.append(response.json())
        refused = await auth.http.post("/authenticate/start", json={}, headers=via(ip))
        wait = assert_429(refused)
        assert wait > settings.challenge_ttl - 10  # the oldest frees when it expires
        other = await auth.http.post("/authenticate/start", json={}, headers=via(random_ip()))
        assert other.status_code == 200
        first = started[0]
        options = first["publicKeyCredentialCreationOptions"]["publicKey"]
        device = SoftAuthenticator(origin=ORIGIN)
        done = await auth.complete(
            "/register/complete", first["requestId"], device.create(options), headers=via(ip)
        )
        assert done.status_code == 200, done.text
        freed = await auth.http.post("/authenticate/start", json={}, headers=via(ip))
        assert freed.status_code == 200, freed.text


# --- units ----------------------------------------------------------------------------------


def request_from(peer: str, forwarded: list[str]) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "headers": headers, "client": (peer, 5555)})


def test_client_address_trusts_only_the_proxy_hops() -> None:
    assert client_address(request_from("10.0.0.9", ["1.1.1.1"]), 0) == "10.0.0.9"
    assert client_address(request_from("10.0.0.9", ["6.6.6.6, 2.2.2.2"]), 1) == "2.2.2.2"
    assert client_address(request_from("10.0.0.9", ["6.6.6.6", "2.2.2.2"]), 1) == "2.2.2.2"
    assert client_address(request_from("10.0.0.9", ["6.6.6.6, 3.3.3.3, 10.1.1.1"]), 2) == (
        "3.3.3.3"
    )
    assert client_address(request_from("10.0.0.9", []), 1) == "10.0.0.9"  # in-cluster caller


def test_client_key_groups_ipv6_by_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key(" 192.0.2.7 ") == "192.0.2.7"
    assert client_key("not-an-ip") == "unparsable"


async def test_memory_store_quota_keeps_room_for_others() -> None:
    store = MemoryChallengeStore(max_entries=100, max_per_owner=10)
    for i in range(10):
        await store.put(f"a{i}", "{}", 300, owner="attacker")
    with pytest.raises(TooManyRequests):
        await store.put("a-more", "{}", 300, owner="attacker")
    for i in range(90):
        await store.put(f"o{i}", "{}", 300, owner=f"user-{i}")
    with pytest.raises(DependencyUnavailable):  # the global bound still holds
        await store.put("x", "{}", 300, owner="late")
    assert await store.take("a0") == "{}"
    await store.put("a-again", "{}", 300, owner="attacker")  # taking freed a slot
