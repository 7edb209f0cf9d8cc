"""The worker killed with SIGKILL again and again, and stopped with SIGTERM: every upload
completes exactly once and no training example is duplicated (real PostgreSQL, RabbitMQ
and S3; the worker is a separate `healthplatform serve etl` process)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from healthplatform.apps.api import create_app
from healthplatform.db.models import DailyMetrics, Narrative, Upload
from healthplatform.events.relay import OutboxRelay
from healthplatform.healthconnect.synth import synthetic_file
from healthplatform.settings import Settings
from tests.support.processes import EXE
from tests.support.services import KeySet, drop_rabbit_topology, free_port

pytestmark = pytest.mark.integration


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HP_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, list):
            value = ",".join(map(str, value))
        env[f"HP_{name.upper()}"] = str(value)
    return env


async def accept_uploads(
    settings: Settings, keys: KeySet, files: int, records: int = 120
) -> tuple[list[str], list[str]]:
    app = create_app(settings)
    users = [f"crash-{uuid.uuid4().hex}" for _ in range(4)]
    ids = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for user in users:  # training examples are written for people who opted in
                response = await client.put(
                    "/v1/me/consent/ai-training",
                    json={"granted": True},
                    headers={"Authorization": f"Bearer {keys.mint(user)}"},
                )
                assert response.status_code == 200, response.text
            for i in range(files):
                user = users[i % len(users)]
                record_type = [
                    "BloodGlucoseRecord",
                    "HeartRateRecord",
                    "StepsRecord",
                    "SleepSessionRecord",
                ][i % 4]
                data = synthetic_file(
                    record_type, records, seed=i, start_ms=1_758_300_000_000 + (i // 4) * 43_200_000
                )
                response = await client.post(
                    "/v1/upload",
                    headers={"Authorization": f"Bearer {keys.mint(user)}"},
                    files={"file": (f"{record_type}_{i}.avro", data)},
                )
                assert response.status_code == 202, response.text
                ids.append(response.json()["correlation_id"])
        relay = OutboxRelay.from_settings(app.state.resources.sessions, settings)
        await relay.drain()
    return ids, users


async def states(settings: Settings, ids: list[str]) -> dict[str, int]:
    from healthplatform.runtime import open_resources

    async with open_resources(settings, "test") as res, res.sessions() as session:
        rows = (
            await session.execute(
                select(Upload.status, func.count())
                .where(Upload.id.in_([uuid.UUID(i) for i in ids]))
                .group_by(Upload.status)
            )
        ).all()
    return {status: count for status, count in rows}


@pytest.fixture
async def crash_settings(production_settings: Settings) -> AsyncIterator[Settings]:
    name = f"hp-crash-{uuid.uuid4().hex[:8]}"
    yield production_settings.model_copy(
        update={
            "rabbitmq_exchange": name,
            "rabbitmq_queue": f"{name}.etl",
            "rabbitmq_delivery_limit": 100,
            "etl_concurrency": 4,
            "etl_backoff_base_seconds": 0.05,
            "log_level": "WARNING",
        }
    )
    await drop_rabbit_topology(name, f"{name}.etl")


def start_worker(settings: Settings, metrics_port: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [EXE, "serve", "etl", "--metrics-port", str(metrics_port or free_port())],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=open("/tmp/worker_err.log", "ab"),
    )


async def started(port: int, limit: float = 60) -> None:
    """Until the worker's metrics endpoint answers: its imports are done and it is opening
    its connections (start-up takes seconds on a loaded machine)."""
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200:
                    return
            await asyncio.sleep(0.05)


async def test_kill_9_mid_batch_repeatedly(crash_settings: Settings, keys: KeySet) -> None:
    # enough work that the batched worker is still busy when it is killed
    ids, users = await accept_uploads(crash_settings, keys, 96, records=400)
    rng = random.Random(42)
    kills = 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        port = free_port()
        worker = start_worker(crash_settings, port)
        await started(port)
        # then killed in the middle of its work; each life a little longer than the last,
        # so that the person's batches (all-or-nothing) eventually get to finish
        await asyncio.sleep(rng.uniform(0.3, 1.5) * 1.3**kills)
        done = (await states(crash_settings, ids)).get("completed", 0)
        if done == len(ids):
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            break
        worker.kill()  # SIGKILL: no cleanup at all
        worker.wait(10)
        kills += 1
    print(f"worker killed {kills} times")
    final = await states(crash_settings, ids)
    assert final == {"completed": len(ids)}, final
    assert kills >= 2, "the worker was never killed mid-batch; make the run longer"

    from healthplatform.core.identity import user_key
    from healthplatform.runtime import open_resources

    async with open_resources(crash_settings, "test") as res:
        async with res.sessions() as session:
            per_upload = (
                await session.execute(
                    select(Narrative.upload_id, func.count())
                    .where(
                        Narrative.kind == "upload",
                        Narrative.upload_id.in_([uuid.UUID(i) for i in ids]),
                    )
                    .group_by(Narrative.upload_id)
                )
            ).all()
            assert len(per_upload) == len(ids) and {n for _, n in per_upload} == {1}
            withheld = (
                await session.execute(
                    select(Narrative.id).where(
                        Narrative.upload_id.in_([uuid.UUID(i) for i in ids]),
                        Narrative.status != "published",
                    )
                )
            ).all()
            assert withheld == []  # every journal of these nights and days verified
            for user in users:
                days = (
                    (
                        await session.execute(
                            select(DailyMetrics).where(DailyMetrics.user_id == user_key(user))
                        )
                    )
                    .scalars()
                    .all()
                )
                stored = sorted(
                    [o.key async for o in res.store.list(f"training/{user_key(user)}/")]
                )
                assert sorted(d.training_key for d in days) == stored  # one per day, no more


async def test_sigterm_finishes_or_returns_in_flight_work(
    crash_settings: Settings, keys: KeySet
) -> None:
    ids, _ = await accept_uploads(crash_settings, keys, 24)
    worker = start_worker(crash_settings.model_copy(update={"etl_shutdown_grace_seconds": 5}))
    # once the worker has started (its first upload claimed; start-up takes seconds on a
    # loaded machine), stop it in the middle of its work
    for _ in range(300):
        if (await states(crash_settings, ids)).get("queued", 0) < len(ids):
            break
        await asyncio.sleep(0.1)
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0, worker.stderr.read() if worker.stderr else ""
    assert time.monotonic() - started < 5 + 10
    in_between = await states(crash_settings, ids)
    assert "processing" not in in_between or in_between["processing"] <= 4
    worker = start_worker(crash_settings)  # the rest is picked up by the next worker
    try:
        for _ in range(200):
            if (await states(crash_settings, ids)).get("completed") == len(ids):
                break
            await asyncio.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert await states(crash_settings, ids) == {"completed": len(ids)}
