"""Revocation reaches the Health API (issue 17 item 5): a session ended by logout or by
refresh-token reuse opens no more ``/v1`` reads; a token verified once is refused after its
key leaves the JWKS; token lifetimes above the configured maximum are refused.

Real servers: Redis (a key of this run only), PostgreSQL, the auth service over HTTP; the
all-in-one ``healthplatform up`` (in-process list): tests/integration/test_up_revocation.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from healthplatform.api.app import create_app
from healthplatform.auth.app import create_auth_app
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.errors import DependencyUnavailable, Unauthorized
from healthplatform.core.revocation import RedisRevocationList
from healthplatform.core.tokens import JwksCache, TokenVerifier
from healthplatform.db.migrate import HEALTH
from healthplatform.settings import Settings
from tests.integration.auth.conftest import NEW_CLIENT, ORIGIN, AuthClient
from tests.integration.auth.servers import serve
from tests.integration.auth.softauthn import SoftAuthenticator
from tests.support import services
from tests.support.services import AUDIENCE, ISSUER, KeySet

pytestmark = pytest.mark.integration
WINDOW = 60.0  # the issue's bound: a revocation reaches every service within 60 s
TEN_YEARS = 10 * 365 * 86400


# --- the verifier alone (KeySet JWKS over HTTP) ----------------------------------------------


@pytest.fixture
async def verifier(jwks_url: str) -> AsyncIterator[TokenVerifier]:
    cache = JwksCache(jwks_url, min_refresh=0, ttl=0.3)
    yield TokenVerifier(cache, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", "ES256"])
    await cache.close()


async def test_lifetime_above_the_maximum_is_refused(verifier: TokenVerifier, keys: KeySet) -> None:
    assert (await verifier.verify(keys.mint("alice", ttl=3600))).subject == "alice"
    for ttl in (3601, 86400, TEN_YEARS):
        with pytest.raises(Unauthorized, match="lifetime too long"):
            await verifier.verify(keys.mint("alice", ttl=ttl))
    short = TokenVerifier(
        verifier.jwks, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], max_lifetime=900
    )
    with pytest.raises(Unauthorized, match="lifetime too long"):
        await short.verify(keys.mint("alice", ttl=901))


async def test_token_without_session_id_is_refused(verifier: TokenVerifier, keys: KeySet) -> None:
    now = int(time.time())
    body = {"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    token = jwt.encode(body, keys.rsa, algorithm="RS256", headers={"kid": keys.rsa_kid})
    with pytest.raises(Unauthorized, match="MissingRequiredClaim"):
        await verifier.verify(token)


async def test_cached_token_refused_after_its_key_left_the_jwks(
    verifier: TokenVerifier, keys: KeySet
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = f"doomed-{uuid.uuid4().hex[:6]}"
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig", alg="RS256")
    keys.extra.append(jwk)
    try:
        now = int(time.time())
        body = {"sub": "carol", "sid": "s1", "iss": ISSUER, "aud": AUDIENCE}
        token = jwt.encode(
            {**body, "iat": now, "exp": now + 600}, key, algorithm="RS256", headers={"kid": kid}
        )
        assert (await verifier.verify(token)).subject == "carol"
        assert (await verifier.verify(token)).subject == "carol"  # the cache answers
    finally:
        keys.extra.remove(jwk)
    await asyncio.sleep(verifier.jwks.ttl + 0.1)
    with pytest.raises(Unauthorized, match="unknown kid"):
        await verifier.verify(token)


# --- the shared list in Redis ----------------------------------------------------------------


@pytest.fixture
def revocation_key() -> Iterator[str]:
    key = f"hp-test-{uuid.uuid4().hex[:10]}:revoked-sessions"
    yield key
    import redis

    redis.Redis.from_url(services.REDIS_URL).delete(key)


async def test_redis_list_reaches_another_reader_within_its_refresh(revocation_key: str) -> None:
    writer = RedisRevocationList(services.REDIS_URL, revocation_key, keep_seconds=600)
    reader = RedisRevocationList(
        services.REDIS_URL, revocation_key, keep_seconds=600, refresh_seconds=0.5
    )
    try:
        assert not await reader.is_revoked("s-1")
        await writer.revoke(["s-1", "s-2"])
        assert await writer.is_revoked("s-1")  # the writer's own process at once
        started = time.monotonic()
        while not await reader.is_revoked("s-2"):
            assert time.monotonic() - started < 2, "not seen within the refresh interval"
            await asyncio.sleep(0.05)
        assert not await reader.is_revoked("s-3")
        # a fresh reader (a new replica) loads what is there
        late = RedisRevocationList(services.REDIS_URL, revocation_key, keep_seconds=600)
        assert await late.is_revoked("s-1")
        await late.close()
    finally:
        await writer.close()
        await reader.close()


async def test_unreadable_list_fails_closed(revocation_key: str) -> None:
    dead = f"redis://127.0.0.1:{services.free_port()}/0"
    reader = RedisRevocationList(dead, revocation_key, keep_seconds=600, max_staleness=0.5)
    try:
        with pytest.raises(DependencyUnavailable, match="revocation list"):
            await reader.is_revoked("s-1")
        with pytest.raises(DependencyUnavailable):
            await reader.revoke(["s-1"])
    finally:
        await reader.close()


# --- end to end: auth service over HTTP, Health API, Redis -------------------------------------


@pytest.fixture(params=["redis", "http"])
def platform(
    request: pytest.FixtureRequest,
    production_auth_settings: AuthSettings,
    revocation_key: str,
    tmp_path: Path,
) -> Iterator[tuple[str, Settings]]:
    """The API reads the list from the same Redis, or (the chart) from the auth service's
    in-cluster endpoint while its own Redis holds another key."""
    auth_settings = production_auth_settings.model_copy(
        update={"revocation_redis_key": revocation_key}
    )
    with serve(create_auth_app(auth_settings)) as url:
        source: dict[str, Any] = {"revocation_redis_key": revocation_key}
        if request.param == "http":
            source = {"revocation_url": f"{url}/internal/revoked-sessions"}
        settings = Settings(
            data_dir=tmp_path,
            jwt_jwks_url=f"{url}/.well-known/jwks.json",
            jwks_min_refresh_seconds=0,
            redis_url=services.REDIS_URL,
            redis_key_prefix=f"hp-test-{uuid.uuid4().hex[:8]}:",
            **source,
        )
        yield url, settings


@pytest.fixture
async def clients(
    platform: tuple[str, Settings],
) -> AsyncIterator[tuple[AuthClient, httpx.AsyncClient]]:
    auth_url, settings = platform
    await HEALTH.upgrade(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://api") as api,
            httpx.AsyncClient(base_url=auth_url, timeout=10, headers=NEW_CLIENT) as http,
        ):
            yield AuthClient(http, None, None), api  # type: ignore[arg-type]


async def refused_within(api: httpx.AsyncClient, token: str) -> float:
    """Seconds until ``/v1`` refuses ``token`` (fails after the 60 s window)."""
    started = time.monotonic()
    while True:
        response = await api.get("/v1/upload/history", headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 401:
            assert "revoked" in response.text, response.text
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < WINDOW, "revocation did not reach the API"
        await asyncio.sleep(0.1)


async def sign_in(auth: AuthClient) -> dict[str, Any]:
    name = f"user-{uuid.uuid4().hex[:12]}"
    device = await auth.register(name, SoftAuthenticator(origin=ORIGIN))
    return await auth.login(device, name)


async def test_logout_reaches_the_api(clients: tuple[AuthClient, httpx.AsyncClient]) -> None:
    auth, api = clients
    tokens = await sign_in(auth)
    bearer = auth.bearer(tokens["access_token"])
    assert (await api.get("/v1/upload/history", headers=bearer)).status_code == 200
    assert (await auth.http.post("/logout", headers=bearer)).status_code == 200
    took = await refused_within(api, tokens["access_token"])
    print(f"\nlogout refused by /v1 after {took:.2f} s")
    assert took < 10, f"{took:.1f} s"  # 5 s refresh by default; 60 s is the promise


async def test_every_api_replica_refuses_within_the_window(
    platform: tuple[str, Settings], clients: tuple[AuthClient, httpx.AsyncClient]
) -> None:
    """Three more API processes' worth of state (each its own verifier cache and copy of
    the list), all warmed with the token before the logout."""
    auth, first = clients
    _, settings = platform
    tokens = await sign_in(auth)
    bearer = auth.bearer(tokens["access_token"])
    async with contextlib.AsyncExitStack() as stack:
        replicas = [first]
        for _ in range(3):
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            replicas.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://api")
                )
            )
        for api in replicas:
            assert (await api.get("/v1/upload/history", headers=bearer)).status_code == 200
        assert (await auth.http.post("/logout", headers=bearer)).status_code == 200
        delays = [await refused_within(api, tokens["access_token"]) for api in replicas]
    print(f"\nreplicas refused after {', '.join(f'{d:.2f}' for d in delays)} s")
    assert max(delays) < WINDOW


def test_lifetime_setting_is_validated() -> None:
    assert Settings(jwt_max_lifetime_seconds=900).jwt_max_lifetime_seconds == 900
    for bad in (0, 59, 86401, TEN_YEARS):
        with pytest.raises(ValidationError):
            Settings(jwt_max_lifetime_seconds=bad)
    for name, bad in (("jwks_ttl_seconds", 61), ("revocation_refresh_seconds", 31)):
        with pytest.raises(ValidationError):
            Settings(**{name: bad})


async def test_refresh_reuse_reaches_the_api(
    clients: tuple[AuthClient, httpx.AsyncClient],
) -> None:
    auth, api = clients
    tokens = await sign_in(auth)
    first = await auth.http.post("/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    rotated = first.json()["access_token"]
    bearer = auth.bearer(rotated)
    assert (await api.get("/v1/upload/history", headers=bearer)).status_code == 200
    stolen = await auth.http.post("/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert stolen.status_code == 401
    took = await refused_within(api, rotated)
    print(f"\nrefresh reuse refused by /v1 after {took:.2f} s")
    assert took < 10, f"{took:.1f} s"
    await refused_within(api, tokens["access_token"])  # the older token of the session too


async def test_internal_endpoint_refuses_bad_input(
    clients: tuple[AuthClient, httpx.AsyncClient],
) -> None:
    auth, _ = clients
    for since in ("-1", "abc", "1e300"):
        response = await auth.http.get("/internal/revoked-sessions", params={"since": since})
        assert response.status_code == 400, response.text
    ok = await auth.http.get("/internal/revoked-sessions", params={"since": "0"})
    assert ok.status_code == 200 and isinstance(ok.json()["revoked"], list)
