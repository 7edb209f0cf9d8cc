"""A year of one person: processing, re-deriving, reading, exporting (production backends).

A synthetic person (`healthplatform.healthconnect.person`: CGM every 5 min, heart rate every
minute, steps, sleep with stages, exercise, HRV, SpO2, blood pressure) uploads a year as
their phone would, one file per record type per day, and has opted in to AI training (the
worst case: every day also writes a training example). Printed beside the bare fastavro
decoding of the same files, in one run:

- process: `healthplatform serve etl` from the first event to the last upload completed;
- rederive: every day derived again from the stored observations (a definitions change);
- day view: p50/p95 of `GET /v1/days/{day}` over random days;
- narratives: a year of `GET /v1/narratives` (one request, 366 days);
- export: peak Python memory growth while streaming `GET /v1/me/export` (tracemalloc).

Usage: `make bench-year` or `python scripts/bench_year.py --help` (`--days 30` for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from datetime import date, timedelta
from pathlib import Path

import fastavro
import httpx
from starlette.types import ASGIApp, Message, Scope

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import make_bucket  # noqa: E402
from tests.support import services  # noqa: E402

from healthplatform.apps.api import create_app  # noqa: E402
from healthplatform.core.gc_tuning import tune_for_service  # noqa: E402
from healthplatform.core.identity import user_key  # noqa: E402
from healthplatform.core.logging import configure_logging  # noqa: E402
from healthplatform.etl.pipeline import rederive_user  # noqa: E402
from healthplatform.healthconnect.person import year_files  # noqa: E402
from healthplatform.runtime import open_resources  # noqa: E402
from healthplatform.settings import Settings  # noqa: E402
from scripts.bench_etl import run_worker  # noqa: E402
from scripts.benchlib import production_env  # noqa: E402

FIRST_DAY = date(2025, 1, 1)
GOALS = {"process": 60.0, "rederive": 60.0, "day_p95_ms": 20.0, "narratives_ms": 200.0,
         "export_mb": 64.0}  # fmt: skip


def bare_decode(files: list[tuple[str, bytes]]) -> tuple[int, float]:
    started = time.process_time()
    count = sum(1 for _, data in files for _ in fastavro.reader(io.BytesIO(data)))
    return count, time.process_time() - started


async def upload(settings: Settings, keys: services.KeySet, person: str, files: list) -> list:  # type: ignore[type-arg]
    app = create_app(settings)
    ids = []
    headers = {"Authorization": f"Bearer {keys.mint(person)}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as c,
    ):
        yes = await c.put("/v1/me/consent/ai-training", json={"granted": True}, headers=headers)
        yes.raise_for_status()
        for name, data in files:
            r = await c.post("/v1/upload", headers=headers, files={"file": (name, data)})
            if r.status_code != 202:
                raise SystemExit(f"upload failed: {r.text}")
            ids.append(uuid.UUID(r.json()["correlation_id"]))
    return ids


async def read_side(
    settings: Settings, keys: services.KeySet, person: str, days: int
) -> dict[str, float]:
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {keys.mint(person)}"}
    rng = random.Random(1)
    out: dict[str, float] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as c,
    ):
        tune_for_service()  # as `serve api` does after start-up
        timings = []
        for _ in range(200):
            day = FIRST_DAY + timedelta(days=rng.randrange(days))
            started = time.perf_counter()
            r = await c.get(f"/v1/days/{day}", headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
        timings.sort()
        out["day_p50_ms"] = statistics.median(timings)
        out["day_p95_ms"] = timings[int(0.95 * len(timings)) - 1]
        last = FIRST_DAY + timedelta(days=days - 1)
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            r = await c.get(f"/v1/narratives?from={FIRST_DAY}&to={last}&limit=366", headers=headers)
            runs.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
        out["narratives_ms"] = statistics.median(runs)
        out["narratives_returned"] = len(r.json()["narratives"])
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        size = await drain(app, "/v1/me/export", headers)
        out["export_mb"] = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        out["export_size_mb"] = size / 2**20
        tracemalloc.stop()
    return out


async def drain(app: ASGIApp, path: str, headers: dict[str, str]) -> int:
    """GET `path` straight through the ASGI app, counting and dropping the body as a socket
    would (httpx's ASGITransport buffers the whole body, which would measure the client)."""
    size = 0
    status = 0
    requested = False
    finished = asyncio.Event()

    async def receive() -> Message:
        # the request once; afterwards a client that stays connected until the body ends
        # (Starlette's streaming response listens for a disconnect while it sends)
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal size, status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("bench", 80), "client": ("127.0.0.1", 1),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    await app(scope, receive, send)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}")
    return size


async def rederive(settings: Settings, person: str) -> tuple[float, float, int]:
    async with open_resources(settings, "bench-rederive") as res:
        started, cpu = time.perf_counter(), time.process_time()
        days = await rederive_user(res, user_key(person), all_days=True)
        return time.perf_counter() - started, time.process_time() - cpu, days


def main() -> None:
    configure_logging("bench-year", "WARNING")  # before the MCP SDK installs an INFO handler
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365, help="days of data (default a year)")
    parser.add_argument("--concurrency", type=int, default=4, help="worker concurrency")
    args = parser.parse_args()

    files = list(year_files(FIRST_DAY, args.days))
    records, decode_cpu = bare_decode(files)
    keys = services.KeySet()
    person = f"year-{uuid.uuid4().hex[:8]}"
    tag = f"bench-year-{uuid.uuid4().hex[:8]}"
    with (
        services.moto_s3_server() as s3,
        services.postgres_database() as db,
        services.jwks_server(keys) as jwks,
    ):
        make_bucket(s3, "bench-lake")
        env = production_env(s3, "bench-lake", db, jwks, tag)
        env.update(HP_RATE_LIMIT_PER_MINUTE="10000000", HP_RATE_LIMIT_BURST="1000000",
                   HP_ETL_CONCURRENCY=str(args.concurrency))  # fmt: skip
        settings = Settings(**{k[3:].lower(): v for k, v in env.items() if k.startswith("HP_")})  # type: ignore[arg-type]
        exe = str(Path(sys.executable).parent / "healthplatform")
        subprocess.run([exe, "migrate"], env=env, check=True, capture_output=True)
        print(f"uploading {len(files)} files ({records} records) ...", flush=True)
        ids = asyncio.run(upload(settings, keys, person, files))
        process_s, process_cpu_s, _ = run_worker(exe, env, settings, ids, limit=3600)
        rederive_s, rederive_cpu, days = asyncio.run(rederive(settings, person))
        reads = asyncio.run(read_side(settings, keys, person, args.days))

    results = {"process": process_s, "rederive": rederive_s, **reads}
    print(f"\n{args.days} days, {len(files)} files, {records} records, worker concurrency "
          f"{args.concurrency}, {os.cpu_count()} CPUs\n")  # fmt: skip
    print(f"{'measure':<44} {'value':>10} {'goal':>10}")
    rows = [
        ("bare fastavro decode of the files (CPU s)", decode_cpu, None),
        ("process the year (wall s)", process_s, GOALS["process"]),
        ("  worker CPU (s)", process_cpu_s, None),
        (f"rederive every day ({days} days, wall s)", rederive_s, GOALS["rederive"]),
        ("  CPU in process (s)", rederive_cpu, None),
        ("day view p50 (ms)", reads["day_p50_ms"], None),
        ("day view p95 (ms)", reads["day_p95_ms"], GOALS["day_p95_ms"]),
        (f"narratives, a year ({reads['narratives_returned']:.0f}) (ms)", reads["narratives_ms"],
         GOALS["narratives_ms"]),
        (f"export peak memory growth ({reads['export_size_mb']:.0f} MB streamed) (MB)",
         reads["export_mb"], GOALS["export_mb"]),
    ]  # fmt: skip
    for label, value, goal in rows:
        verdict = "" if goal is None else ("met" if value <= goal else "NOT met")
        print(f"{label:<44} {value:>10.1f} {'' if goal is None else f'<= {goal:g}':>10} {verdict}")
    print({k: round(v, 2) for k, v in results.items()})


if __name__ == "__main__":
    main()
