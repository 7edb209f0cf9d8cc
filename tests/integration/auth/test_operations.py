"""Health, readiness with dependencies cut, metrics, and the auth database's migrations."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import inspect

from healthplatform.auth.maintenance import run_maintenance
from healthplatform.auth.models import utcnow
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.engine import create_auth_engine
from healthplatform.db.migrate import AUTH
from tests.integration.auth.conftest import AuthClient, open_client
from tests.support.proxy import FlakyProxy, via_proxy
from tests.support.services import free_port

pytestmark = pytest.mark.integration


async def test_health_and_liveness(auth: AuthClient) -> None:
    health = (await auth.http.get("/health")).json()
    assert health["status"] == "healthy"
    assert abs(health["timestamp"] - time.time() * 1000) < 60_000
    assert (await auth.http.get("/health/live")).json() == {"status": "ok"}
    ready = await auth.http.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["dependencies"] == {"database": "ok", "challenge_store": "ok"}


async def test_metrics(auth: AuthClient, username: str) -> None:
    device = await auth.register(username)
    await auth.login(device, username)
    await auth.login(device)
    await auth.http.post("/register/complete", json={"requestId": "nope", "credential": "{}"})
    text = (await auth.http.get("/metrics")).text
    for line in (
        'hp_auth_failures_total{reason="request_id"}',
        'hp_auth_logins_total{mode="username"}',
        'hp_auth_logins_total{mode="usernameless"}',
        'hp_auth_registrations_total{kind="account"}',
        'hp_auth_signing_keys{state="active"} 1.0',
        'hp_http_requests_total{method="POST",route="/authenticate/complete",service="auth"',
    ):
        assert line in text, line


async def test_readiness_reports_a_dead_redis(auth_settings: AuthSettings) -> None:
    dead = auth_settings.model_copy(
        update={"redis_url": SecretStr(f"redis://127.0.0.1:{free_port()}/0")}
    )
    async for auth in open_client(dead):
        ready = await auth.http.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["dependencies"]["database"] == "ok"
        assert body["dependencies"]["challenge_store"].startswith("down")
        start = await auth.http.post("/authenticate/start", json={})
        assert start.status_code == 503 and "challenge store" in start.json()["error"]


async def test_postgres_and_redis_cut_and_restored(
    production_auth_settings: AuthSettings, username: str
) -> None:
    pg = FlakyProxy(urlsplit(production_auth_settings.database_url).port or 5432)
    redis = FlakyProxy(6379)
    await pg.up()
    await redis.up()
    settings = production_auth_settings.model_copy(
        update={
            "database_url": via_proxy(production_auth_settings.database_url, pg),
            "redis_url": SecretStr(
                via_proxy(production_auth_settings.redis_url.get_secret_value(), redis)
            ),
            "database_connect_timeout_seconds": 1.0,
        }
    )
    try:
        async for auth in open_client(settings):
            assert (await auth.http.get("/health/ready")).status_code == 200
            device = await auth.register(username)

            await pg.down()
            ready = await auth.http.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["dependencies"]["database"].startswith("down")
            assert ready.json()["dependencies"]["challenge_store"] == "ok"
            start = await auth.http.post("/register/start", json={"username": f"{username}-2"})
            assert start.status_code == 503 and start.json() == {
                "error": "database unavailable, retry later"
            }
            jwks = await auth.http.get("/.well-known/jwks.json")  # served from the key cache
            assert jwks.status_code == 200 and jwks.json()["keys"]
            await pg.up()
            assert (await auth.http.get("/health/ready")).status_code == 200

            await redis.down()
            ready = await auth.http.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["dependencies"]["challenge_store"].startswith("down")
            start = await auth.http.post("/authenticate/start", json={"username": username})
            assert start.status_code == 503
            await redis.up()
            assert (await auth.http.get("/health/ready")).status_code == 200
            assert (await auth.login(device, username))["username"] == username
    finally:
        await pg.down()
        await redis.down()


async def test_own_database_and_version_table(auth_settings: AuthSettings) -> None:
    await AUTH.upgrade(auth_settings)  # idempotent
    assert await AUTH.current_revision(auth_settings) == AUTH.head_revision(auth_settings)
    engine = create_auth_engine(auth_settings)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert "auth_alembic_version" in tables and "alembic_version" not in tables
    assert {"auth_users", "auth_credentials", "auth_signing_keys"} <= tables
    assert "uploads" not in tables  # the health database is a different one


async def test_maintenance_deletes_long_ended_sessions(
    fresh_auth_settings: Callable[..., AuthSettings], username: str
) -> None:
    settings = fresh_auth_settings()
    async for auth in open_client(settings):
        device = await auth.register(username)
        tokens = await auth.login(device)
        await auth.login(device)  # a second session, still active
        await auth.http.post("/logout", headers=auth.bearer(tokens["access_token"]))
    soon = await run_maintenance(settings)
    assert soon.sessions_deleted == 0  # ended sessions stay a week
    later = await run_maintenance(settings, now=utcnow() + timedelta(days=8))
    assert later.sessions_deleted == 1
