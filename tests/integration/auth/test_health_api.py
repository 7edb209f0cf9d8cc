"""End to end: a token from the auth service opens the Health API (which verifies it
against the auth service's JWKS over HTTP); a tampered one does not."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from healthplatform.api.app import create_app
from healthplatform.db.migrate import HEALTH
from healthplatform.settings import Settings
from tests.integration.auth.conftest import AuthClient

pytestmark = pytest.mark.integration


@pytest.fixture
async def health_api(auth_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path,
        jwt_jwks_url=f"{auth_url}/.well-known/jwks.json",
        jwks_min_refresh_seconds=0,
    )  # issuer and audience: the defaults on both sides
    await HEALTH.upgrade(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_auth_token_opens_the_health_api(
    auth: AuthClient, health_api: httpx.AsyncClient, username: str
) -> None:
    tokens = await auth.login(await auth.register(username), username)
    token = tokens["access_token"]
    ok = await health_api.get("/v1/upload/history", headers=auth.bearer(token))
    assert ok.status_code == 200, ok.text
    assert ok.json()["uploads"] == []

    refused = await health_api.get("/v1/upload/history", headers=auth.bearer(tamper(token)))
    assert refused.status_code == 401
    truncated = await health_api.get("/v1/upload/history", headers=auth.bearer(token[:-4]))
    assert truncated.status_code == 401

    refreshed = await auth.http.post(
        "/token/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    new_token = refreshed.json()["access_token"]
    again = await health_api.get("/v1/upload/history", headers=auth.bearer(new_token))
    assert again.status_code == 200
