"""Shared fixtures. Services are real: PostgreSQL, Redis, RabbitMQ on this machine and a moto
S3 server process. Each run isolates itself (own database, bucket, key prefix, queue names)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

from healthplatform.api.app import create_app
from healthplatform.db.migrate import HEALTH
from healthplatform.settings import Settings
from tests.support import services
from tests.support.artifacts import samples_dir

ROOT = Path(__file__).resolve().parents[1]
# The real Health Connect files (pinned in tests/artifacts.lock.json): fetched into the cache
# before any test module is collected; when they cannot be found the tests that use them fail
# with SAMPLES_ERROR (never a skip).
SAMPLES, SAMPLES_ERROR = samples_dir()
RUN_ID = uuid.uuid4().hex[:8]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With HP_TEST_STRICT=1 (the README test command) a skipped test fails the run:
    every tier is required."""
    if os.environ.get("HP_TEST_STRICT") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        reporter.write_line(f"STRICT: {skipped} test(s) skipped; every tier is required", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def samples() -> list[Path]:
    files = sorted(SAMPLES.glob("*.avro"))
    assert files, SAMPLES_ERROR or f"no sample files in {SAMPLES}"
    return files


@pytest.fixture(scope="session")
def keys() -> services.KeySet:
    return services.KeySet()


@pytest.fixture(scope="session")
def jwks_url(keys: services.KeySet) -> Iterator[str]:
    with services.jwks_server(keys) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with services.moto_s3_server() as url:
        yield url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with services.postgres_database() as url:
        yield url


def make_bucket(endpoint: str, name: str) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket=name)


def token_settings(jwks_url: str) -> dict[str, object]:
    return {
        "jwt_jwks_url": jwks_url,
        "jwt_issuer": services.ISSUER,
        "jwt_audience": services.AUDIENCE,
        "jwks_min_refresh_seconds": 0,
    }


@pytest.fixture(scope="session")
def production_settings(
    pg_url: str, s3_endpoint: str, jwks_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    bucket = f"hp-test-{RUN_ID}"
    make_bucket(s3_endpoint, bucket)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("prod"),
        database_url=pg_url,
        object_store="s3",
        s3_endpoint_url=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        events_backend="rabbitmq",
        rabbitmq_url=services.RABBIT_URL,
        rabbitmq_exchange=f"hp-test-{RUN_ID}",
        rabbitmq_queue=f"hp-test-{RUN_ID}.etl",
        redis_url=services.REDIS_URL,
        redis_key_prefix=f"hp-test-{RUN_ID}:",
        rate_limit_per_minute=6000,
        rate_limit_burst=500,
        **token_settings(jwks_url),  # type: ignore[arg-type]
    )
    import asyncio

    asyncio.run(HEALTH.upgrade(settings))
    yield settings
    asyncio.run(services.drop_rabbit_topology(settings.rabbitmq_exchange, settings.rabbitmq_queue))


@pytest.fixture(scope="session")
def embedded_settings(jwks_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("embedded"),
        rate_limit_per_minute=6000,
        rate_limit_burst=500,
        **token_settings(jwks_url),  # type: ignore[arg-type]
    )
    import asyncio

    asyncio.run(HEALTH.upgrade(settings))
    return settings


@pytest.fixture(params=["embedded", "production"])
def settings(request: pytest.FixtureRequest) -> Settings:
    """Every API test runs on the embedded backends and on the real servers."""
    name = "embedded_settings" if request.param == "embedded" else "production_settings"
    result: Settings = request.getfixturevalue(name)
    return result


class ApiClient:
    def __init__(self, client: httpx.AsyncClient, keys: services.KeySet, app: object) -> None:
        self.http = client
        self.keys = keys
        self.app = app

    def auth(self, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.mint(sub)}"}

    async def opt_in(self, sub: str) -> None:
        """The person agrees that their narratives become AI-training examples (off until
        they do): tests of training examples opt in first."""
        response = await self.http.put(
            "/v1/me/consent/ai-training", json={"granted": True}, headers=self.auth(sub)
        )
        assert response.status_code == 200, response.text

    async def upload(self, sub: str, name: str, data: bytes, **extra: object) -> httpx.Response:
        return await self.http.post(
            "/v1/upload",
            headers=self.auth(sub),
            files={"file": (name, data, "application/octet-stream")},
            **extra,
        )  # type: ignore[arg-type]


@pytest.fixture
async def api(settings: Settings, keys: services.KeySet) -> AsyncIterator[ApiClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield ApiClient(client, keys, app)


@pytest.fixture
def user() -> str:
    """A fresh user per test: tests never see each other's data."""
    return f"user-{uuid.uuid4().hex}"
