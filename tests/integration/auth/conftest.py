"""Fixtures of the auth tests. Every test runs on the embedded backends (SQLite + in-memory
challenges) and on the real servers (a fresh PostgreSQL database + Redis with a key prefix
unique to this run)."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from healthplatform.auth.app import create_auth_app
from healthplatform.auth.service import AuthService
from healthplatform.auth.settings import AuthSettings, fingerprint_to_apk_key_hash
from healthplatform.db.migrate import AUTH
from tests.integration.auth.servers import serve
from tests.integration.auth.softauthn import SoftAuthenticator
from tests.support import services

RUN_ID = uuid.uuid4().hex[:8]
RP_ID = "health.test"
ORIGIN = "https://health.test"
APP_ORIGIN = "https://app.health.test:8443"
ANDROID_PACKAGE = "org.healthplatform.app"
ANDROID_FINGERPRINT = ":".join(f"{b:02X}" for b in bytes(range(0x10, 0x30)))
ANDROID_ORIGIN = fingerprint_to_apk_key_hash(ANDROID_FINGERPRINT)
KEK = base64.b64encode(os.urandom(32)).decode()
# this platform's own clients ask for the additions to the previous server's answers
NEW_CLIENT = {"X-HP-Auth-Features": "refresh-token, passkey-id"}


def auth_settings_kwargs(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "rp_id": RP_ID,
        "rp_name": "Health Platform (tests)",
        "allowed_origins": [ORIGIN, APP_ORIGIN],
        "android_package_name": ANDROID_PACKAGE,
        "android_cert_fingerprints": [ANDROID_FINGERPRINT],
        # every test here comes from one address: the abuse limits get tests of their own
        # (test_limits.py), the others must not share a budget
        "rate_limit_ip_per_minute": 100_000,
        "rate_limit_ip_burst": 100_000,
        "rate_limit_username_per_minute": 100_000,
        "rate_limit_username_burst": 100_000,
        "max_pending_ceremonies_per_ip": 100_000,
    }
    values.update(overrides)
    return values


def migrated(settings: AuthSettings) -> AuthSettings:
    """Upgrade the schema (in a worker thread: callers may be inside a running loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, AUTH.upgrade(settings)).result()
    return settings


@pytest.fixture(scope="session")
def auth_pg_url() -> Iterator[str]:
    with services.postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def embedded_auth_settings(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    data_dir = tmp_path_factory.mktemp("auth-embedded")
    return migrated(AuthSettings(data_dir=data_dir, **auth_settings_kwargs()))


@pytest.fixture(scope="session")
def production_auth_settings(
    auth_pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AuthSettings:
    settings = AuthSettings(
        environment="test",
        data_dir=tmp_path_factory.mktemp("auth-production"),
        database_url=auth_pg_url,
        redis_url=services.REDIS_URL,
        redis_key_prefix=f"hp-auth-test-{RUN_ID}:",
        key_encryption_key=KEK,
        **auth_settings_kwargs(),
    )
    return migrated(settings)


BACKENDS = ["embedded", "production"]


@pytest.fixture(params=BACKENDS)
def auth_settings(request: pytest.FixtureRequest) -> AuthSettings:
    """Every auth test runs on the embedded backends and on the real servers."""
    result: AuthSettings = request.getfixturevalue(f"{request.param}_auth_settings")
    return result


@pytest.fixture(params=BACKENDS)
def fresh_auth_settings(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., AuthSettings]]:
    """A factory of settings on an empty, migrated database of their own (for tests that
    change global state such as the signing keys)."""
    with contextlib.ExitStack() as stack:
        pg_url = ""
        if request.param == "production":
            pg_url = stack.enter_context(services.postgres_database())

        def make(**overrides: Any) -> AuthSettings:
            base: dict[str, Any] = {"data_dir": tmp_path}
            if pg_url:
                base |= {
                    "environment": "test",
                    "database_url": pg_url,
                    "redis_url": services.REDIS_URL,
                    "redis_key_prefix": f"hp-auth-test-{RUN_ID}-{uuid.uuid4().hex[:6]}:",
                    "key_encryption_key": KEK,
                }
            return migrated(AuthSettings(**{**base, **auth_settings_kwargs(**overrides)}))

        yield make


class AuthClient:
    """The auth app in-process (ASGI) plus ceremony helpers driving a soft authenticator."""

    def __init__(self, http: httpx.AsyncClient, app: FastAPI, settings: AuthSettings) -> None:
        self.http = http
        self.app = app
        self.settings = settings

    @property
    def service(self) -> AuthService:
        service: AuthService = self.app.state.auth_service
        return service

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def complete(
        self, path: str, request_id: str, credential: dict[str, Any], **kwargs: Any
    ) -> httpx.Response:
        body = {"requestId": request_id, "credential": json.dumps(credential)}
        return await self.http.post(path, json=body, **kwargs)

    async def start_registration(
        self, username: str, display_name: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        body = {"username": username, **({"displayName": display_name} if display_name else {})}
        response = await self.http.post("/register/start", json=body)
        assert response.status_code == 200, response.text
        data = response.json()
        return data["requestId"], data["publicKeyCredentialCreationOptions"]["publicKey"]

    async def register(
        self, username: str, authenticator: SoftAuthenticator | None = None
    ) -> SoftAuthenticator:
        device = authenticator or SoftAuthenticator(origin=ORIGIN)
        request_id, options = await self.start_registration(username)
        response = await self.complete("/register/complete", request_id, device.create(options))
        assert response.status_code == 200, response.text
        assert response.json()["success"] is True
        return device

    async def start_login(self, username: str | None = None) -> tuple[str, dict[str, Any]]:
        body = {"username": username} if username is not None else {}
        response = await self.http.post("/authenticate/start", json=body)
        assert response.status_code == 200, response.text
        data = response.json()
        return data["requestId"], data["publicKeyCredentialRequestOptions"]["publicKey"]

    async def login(
        self, device: SoftAuthenticator, username: str | None = None, **get_kwargs: Any
    ) -> dict[str, Any]:
        request_id, options = await self.start_login(username)
        response = await self.complete(
            "/authenticate/complete", request_id, device.get(options, **get_kwargs)
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def add_passkey(
        self, token: str, device: SoftAuthenticator, name: str | None = None
    ) -> httpx.Response:
        body = {"name": name} if name else {}
        start = await self.http.post(
            "/passkeys/register/start", json=body, headers=self.bearer(token)
        )
        assert start.status_code == 200, start.text
        data = start.json()
        options = data["publicKeyCredentialCreationOptions"]["publicKey"]
        return await self.complete(
            "/passkeys/register/complete",
            data["requestId"],
            device.create(options),
            headers=self.bearer(token),
        )


async def open_client(settings: AuthSettings) -> AsyncIterator[AuthClient]:
    app = create_auth_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://auth", headers=NEW_CLIENT
        ) as http:
            yield AuthClient(http, app, settings)


@pytest.fixture
async def auth(auth_settings: AuthSettings) -> AsyncIterator[AuthClient]:
    async for client in open_client(auth_settings):
        yield client


@pytest.fixture
def username() -> str:
    """A fresh account name per test: tests never see each other's users."""
    return f"user-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def embedded_auth_url(embedded_auth_settings: AuthSettings) -> Iterator[str]:
    with serve(create_auth_app(embedded_auth_settings)) as url:
        yield url


@pytest.fixture(scope="session")
def production_auth_url(production_auth_settings: AuthSettings) -> Iterator[str]:
    with serve(create_auth_app(production_auth_settings)) as url:
        yield url


@pytest.fixture
def auth_url(request: pytest.FixtureRequest, auth_settings: AuthSettings) -> str:
    """The same auth service (same database) served over real HTTP by uvicorn."""
    name = "production" if auth_settings.database_url else "embedded"
    result: str = request.getfixturevalue(f"{name}_auth_url")
    return result
