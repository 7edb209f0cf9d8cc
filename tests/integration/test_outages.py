"""Each dependency held down under load; every accepted upload completes, no operator.

The production topology runs in this process: the API, the outbox relay to RabbitMQ, the
ETL worker consuming the quorum queue and the housekeeping loop, each on its own
connections, with PostgreSQL, the S3 server and RabbitMQ behind TCP proxies the test cuts
(listening stops and every open connection is aborted, as in a restart). Clients keep
uploading through the outage and retry a 503 like the phone app does.

The outage lasts ``HP_FAULT_OUTAGE_SECONDS`` (default 8 s so the default run stays short;
set 60 for the issue's window). The ETL's timings are scaled to it by the same ratio as
production's to a one-minute restart: longest backoff = outage / 8 (30 s : 4 min in
production), housekeeping every outage / 16. Each dependency is taken down once with a
retry budget longer than the outage (the retries ride it out) and once shorter (the
uploads are marked failed on a dependency, or left queued if the database is what is
down, and housekeeping queues them again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from healthplatform.apps.api import create_app
from healthplatform.core import metrics
from healthplatform.core.identity import user_key
from healthplatform.db.engine import create_engine
from healthplatform.db.models import Upload
from healthplatform.etl.worker import Worker
from healthplatform.events.relay import OutboxRelay
from healthplatform.healthconnect.synth import synthetic_file
from healthplatform.ops.housekeeping import run_housekeeping
from healthplatform.settings import Settings
from tests.support.proxy import FlakyProxy, via_proxy
from tests.support.services import KeySet, drop_rabbit_topology

pytestmark = pytest.mark.integration
OUTAGE = float(os.environ.get("HP_FAULT_OUTAGE_SECONDS", "8"))
CLIENTS = 4
TYPES = ("BloodGlucoseRecord", "HeartRateRecord", "StepsRecord", "SleepSessionRecord")


class Load:
    """``CLIENTS`` people uploading new files back to back; a 503 is retried (same file)."""

    def __init__(self, client: httpx.AsyncClient, keys: KeySet) -> None:
        self.client, self.keys = client, keys
        self.users = [f"outage-{uuid.uuid4().hex}" for _ in range(CLIENTS)]
        self.accepted: list[str] = []
        self.answers: Counter[int] = Counter()
        self.stop = asyncio.Event()

    async def person(self, n: int) -> None:
        user, i = self.users[n], 0
        while not self.stop.is_set():
            record_type = TYPES[i % len(TYPES)]
            data = synthetic_file(
                record_type, 12, seed=n * 100_000 + i, start_ms=1_758_300_000_000 + i * 3_600_000
            )
            while True:  # the app retries the same file until it is taken
                response = await self.client.post(
                    "/v1/upload",
                    headers={"Authorization": f"Bearer {self.keys.mint(user)}"},
                    files={"file": (f"{record_type}_{i}.avro", data)},
                )
                self.answers[response.status_code] += 1
                if response.status_code == 202:
                    self.accepted.append(response.json()["correlation_id"])
                    break
                assert response.status_code == 503, response.text  # a clean 503, nothing else
                await asyncio.sleep(0.2)
            i += 1
            await asyncio.sleep(0.15)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self.person(n)) for n in range(CLIENTS)]
        try:
            yield
        finally:
            self.stop.set()
            await asyncio.gather(*tasks)


async def _statuses(settings: Settings, users: list[str]) -> dict[str, int]:
    engine = create_engine(settings)  # direct, not through the proxy
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Upload.status, func.count())
                    .where(Upload.user_id.in_([user_key(u) for u in users]))
                    .group_by(Upload.status)
                )
            ).all()
    finally:
        await engine.dispose()
    return {status: count for status, count in rows}


@pytest.mark.parametrize(
    ("dependency", "budget_factor"),
    [
        ("postgres", 2.0),
        ("postgres", 0.3),
        ("object_store", 2.0),
        ("object_store", 0.3),
        ("rabbitmq", 2.0),
    ],
)
async def test_dependency_down_under_load_every_accepted_upload_completes(
    production_settings: Settings,
    keys: KeySet,
    dependency: str,
    budget_factor: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="healthplatform")
    s3_port = urlsplit(production_settings.s3_endpoint_url).port or 80
    proxies = {
        "postgres": FlakyProxy(5432),
        "object_store": FlakyProxy(s3_port),
        "rabbitmq": FlakyProxy(5672),
    }
    for proxy in proxies.values():
        await proxy.up()
    name = f"hp-outage-{uuid.uuid4().hex[:8]}"
    settings = production_settings.model_copy(
        update={
            "database_url": via_proxy(production_settings.database_url, proxies["postgres"]),
            "s3_endpoint_url": via_proxy(
                production_settings.s3_endpoint_url, proxies["object_store"]
            ),
            "rabbitmq_url": SecretStr(
                via_proxy(production_settings.rabbitmq_url.get_secret_value(), proxies["rabbitmq"])
            ),
            "rabbitmq_exchange": name,
            "rabbitmq_queue": f"{name}.etl",
            "database_connect_timeout_seconds": 1.0,
            "s3_timeout_seconds": 1.0,
            "outbox_poll_interval_seconds": 0.05,
            "etl_backoff_base_seconds": OUTAGE / 160,
            "etl_backoff_max_seconds": OUTAGE / 8,
            "etl_retry_budget_seconds": OUTAGE * budget_factor,
            "requeue_failed_after_seconds": OUTAGE / 8,
            "requeue_stuck_after_seconds": OUTAGE,
            "housekeeping_interval_seconds": OUTAGE / 16,
            "log_level": "WARNING",
        }
    )
    requeued_before = metrics.UPLOADS_REQUEUED._value.get()
    app = create_app(settings)
    stop = asyncio.Event()
    try:
        async with app.router.lifespan_context(app):
            res = app.state.resources
            background = [
                asyncio.create_task(Worker.from_settings(settings, res).run(stop)),
                asyncio.create_task(OutboxRelay.from_settings(res.sessions, settings).run(stop)),
                asyncio.create_task(run_housekeeping(res, stop)),
            ]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                load = Load(client, keys)
                async with load.running():
                    await asyncio.sleep(2)
                    await proxies[dependency].down()
                    down_at = time.monotonic()
                    await asyncio.sleep(OUTAGE)
                    await proxies[dependency].up()
                    recovered = time.monotonic() - down_at
                    await asyncio.sleep(2)
                accepted = list(load.accepted)
                deadline = time.monotonic() + 60 + OUTAGE * 2
                statuses: dict[str, int] = {}
                while time.monotonic() < deadline:
                    statuses = await _statuses(production_settings, load.users)
                    if statuses.get("completed", 0) == len(accepted):
                        break
                    await asyncio.sleep(0.5)
                drained = time.monotonic() - down_at - recovered
            stop.set()
            await asyncio.gather(*background)
    finally:
        for proxy in proxies.values():
            await proxy.down()
        await drop_rabbit_topology(name, f"{name}.etl")
    print(
        f"\n{dependency} down {recovered:.1f} s, budget {OUTAGE * budget_factor:.1f} s: "
        f"answers {dict(load.answers)}, {len(accepted)} accepted, all completed "
        f"{drained:.1f} s after recovery, requeued "
        f"{metrics.UPLOADS_REQUEUED._value.get() - requeued_before:.0f}"
    )
    assert len(accepted) == len(set(accepted)) > 10
    # every accepted upload completed, none lost, none duplicated, none failed or waiting
    assert statuses == {"completed": len(accepted)}, statuses
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("healthplatform")]
    given_up = {
        (getattr(r, "reason", ""), str(getattr(r, "error", ""))[-160:])
        for r in caplog.records
        if r.name.startswith("healthplatform") and r.getMessage() == "giving up on upload"
    }
    if budget_factor > 1:  # the retries rode the outage out: nothing was given up on
        assert not given_up
    elif dependency == "object_store":  # failed on the dependency, then queued again
        assert "giving up on upload" in logged
        assert "requeued uploads that failed on a dependency" in logged
    if dependency in ("postgres", "object_store"):
        assert load.answers[503] > 0  # the outage was felt by the clients
    else:
        assert set(load.answers) == {202}  # a broker outage is invisible to them
