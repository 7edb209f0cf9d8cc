"""Helpers of the backup, DR drill and reprocess tests (this module holds no tests): an
isolated platform (own databases and buckets), the CLI as an operator runs it, and digests
of database and object store contents to compare before/after."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import typer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from healthplatform.api.app import create_app
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import AUTH, HEALTH
from healthplatform.ops.backups.cli import backup_cli, reprocess
from healthplatform.ops.backups.db import table_names
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform.settings import Settings
from healthplatform.storage import ObjectStore
from healthplatform.verify.cli import verify
from tests.conftest import ApiClient, make_bucket, token_settings
from tests.support import services

# the commands mounted as healthplatform.cli mounts them
cli_app = typer.Typer()
cli_app.add_typer(backup_cli, name="backup")
cli_app.command("reprocess")(reprocess)
cli_app.command("verify")(verify)


@dataclass
class Platform:
    settings: Settings
    auth: AuthSettings
    backup: BackupSettings
    env: dict[str, str]  # the same configuration as HP_* variables, for the CLI
    lake_bucket: str = ""
    backup_bucket: str = ""

    def cli(self, *args: str) -> Result:
        """Run `healthplatform <args>` with this platform's environment (call it in a
        thread from async tests: the commands run their own event loop)."""
        return CliRunner().invoke(cli_app, list(args), env=self.env, catch_exceptions=False)


def _common(jwks_url: str, data_dir: Path) -> dict[str, object]:
    return {
        "data_dir": data_dir,
        "events_backend": "database",
        "etl_concurrency": 1,  # upload order = processing order (journals read earlier days)
        "outbox_poll_interval_seconds": 0.05,
        "rate_limit_per_minute": 6000,
        "rate_limit_burst": 500,
        **token_settings(jwks_url),
    }


async def migrate(platform: Platform) -> None:
    await HEALTH.upgrade(platform.settings)
    await AUTH.upgrade(platform.auth)


@contextmanager
def production_platform(s3_endpoint: str, jwks_url: str, data_dir: Path) -> Iterator[Platform]:
    """Two fresh PostgreSQL databases and two buckets (data lake, backups) on moto."""
    run = uuid.uuid4().hex[:8]
    lake, backups = f"hp-dr-{run}", f"hp-dr-{run}-backups"
    erasures = f"hp-dr-{run}-erasures"  # the erasure log's own bucket, as in production
    for bucket in (lake, backups, erasures):
        make_bucket(s3_endpoint, bucket)
    with services.postgres_database() as health_url, services.postgres_database() as auth_url:
        settings = Settings(
            database_url=health_url,
            object_store="s3",
            s3_endpoint_url=s3_endpoint,
            s3_bucket=lake,
            s3_access_key_id="test",
            s3_secret_access_key="test",
            erasure_log_bucket=erasures,
            **_common(jwks_url, data_dir),  # type: ignore[arg-type]
        )
        auth = AuthSettings(data_dir=data_dir, database_url=auth_url)
        env = {
            "HP_DATA_DIR": str(data_dir),
            "HP_DATABASE_URL": health_url,
            "HP_OBJECT_STORE": "s3",
            "HP_S3_ENDPOINT_URL": s3_endpoint,
            "HP_S3_BUCKET": lake,
            "HP_S3_ACCESS_KEY_ID": "test",
            "HP_S3_SECRET_ACCESS_KEY": "test",
            "HP_EVENTS_BACKEND": "database",
            "HP_AUTH_DATA_DIR": str(data_dir),
            "HP_AUTH_DATABASE_URL": auth_url,
            "HP_BACKUP_BUCKET": backups,
            "HP_ERASURE_LOG_BUCKET": erasures,
        }
        yield Platform(settings, auth, BackupSettings(bucket=backups), env, lake, backups)


def embedded_platform(jwks_url: str, data_dir: Path) -> Platform:
    """SQLite files and local folders, as `healthplatform up` runs."""
    settings = Settings(**_common(jwks_url, data_dir))  # type: ignore[arg-type]
    auth = AuthSettings(data_dir=data_dir)
    env = {"HP_DATA_DIR": str(data_dir), "HP_AUTH_DATA_DIR": str(data_dir)}
    return Platform(settings, auth, BackupSettings(), env)


@asynccontextmanager
async def running_api(settings: Settings, keys: services.KeySet) -> AsyncIterator[ApiClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield ApiClient(client, keys, app)


async def database_digest(url: str) -> dict[str, tuple[int, str]]:
    """Rows and a SHA-256 over the sorted rows of every table."""
    engine = create_async_engine(url, poolclass=NullPool)
    digest = {}
    try:
        async with engine.connect() as conn:
            for name in await table_names(conn):
                quoted = conn.dialect.identifier_preparer.quote(name)
                rows = (await conn.execute(text(f"SELECT * FROM {quoted}"))).all()
                body = "\n".join(sorted(repr(tuple(r)) for r in rows))
                digest[name] = (len(rows), hashlib.sha256(body.encode()).hexdigest())
    finally:
        await engine.dispose()
    return digest


async def store_digest(store: ObjectStore, prefix: str) -> dict[str, str]:
    """Key -> SHA-256 of the content of every object under ``prefix``."""
    keys = [info.key async for info in store.list(prefix)]
    return {key: hashlib.sha256(await store.get(key)).hexdigest() for key in keys}


@pytest.fixture(params=["embedded", "production"])
def platform(request: pytest.FixtureRequest, jwks_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A migrated platform on the embedded backends, then on the real servers."""
    if request.param == "embedded":
        made = embedded_platform(jwks_url, tmp_path)
        asyncio.run(migrate(made))
        yield made
        return
    with production_platform(request.getfixturevalue("s3_endpoint"), jwks_url, tmp_path) as made:
        asyncio.run(migrate(made))
        yield made
