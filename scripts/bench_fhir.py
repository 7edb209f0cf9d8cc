"""A year of one person exported as FHIR: peak Python memory growth while streaming
`GET /v1/me/fhir` (tracemalloc), on PostgreSQL.

The person's dense synthetic year (`healthplatform.healthconnect.person`: CGM every 5 min,
heart rate every minute, steps, sleep, HRV, SpO2, blood pressure, exercise) is decoded and
stored straight into the observations table (the ETL's upsert; no worker needed), then the
bundle is streamed through the API and its entries counted.

Usage: `make bench-fhir` or `python scripts/bench_fhir.py --days 30` for a quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import date
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import services  # noqa: E402

from healthplatform.apps.api import create_app  # noqa: E402
from healthplatform.core.identity import user_key  # noqa: E402
from healthplatform.db.migrate import HEALTH  # noqa: E402
from healthplatform.etl.decode import decode_file  # noqa: E402
from healthplatform.etl.observation_rows import upsert_observations  # noqa: E402
from healthplatform.healthconnect.container import ReadLimits  # noqa: E402
from healthplatform.healthconnect.person import year_files  # noqa: E402
from healthplatform.healthconnect.registry import FILENAME_PATTERN  # noqa: E402
from healthplatform.runtime import open_resources  # noqa: E402
from healthplatform.settings import Settings  # noqa: E402

LIMITS = ReadLimits.from_settings(Settings())  # the ETL's decoding bounds


FIRST_DAY = date(2025, 1, 1)
GOAL_MB = 64.0  # the same goal as the JSON-lines export (docs/benchmarks.md)


async def store(settings: Settings, person: str, days: int) -> int:
    records = 0
    async with open_resources(settings, "bench-fhir") as res:
        for name, data in year_files(FIRST_DAY, days):
            match = FILENAME_PATTERN.match(name)
            assert match
            observations = decode_file(data, match["hc_class"], LIMITS).observations
            async with res.engine.begin() as conn:
                await upsert_observations(conn, user_key(person), uuid.uuid4(), observations)
            records += len(observations)
    return records


async def export(settings: Settings, keys: services.KeySet, person: str) -> dict[str, float]:
    """The API served by uvicorn in this process, read over a real socket: the server's
    memory is what tracemalloc sees (httpx's ASGI transport would buffer the whole body)."""
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {keys.mint(person, ttl=3600)}"}
    port = services.free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        return await _stream(f"http://127.0.0.1:{port}", headers)
    finally:
        server.should_exit = True
        await task


async def _stream(base: str, headers: dict[str, str]) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=3600) as client:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        size = entries = 0
        started = time.perf_counter()
        async with client.stream("GET", "/v1/me/fhir", headers=headers) as response:
            response.raise_for_status()
            tail = b""
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                entries += (tail + chunk).count(b'"fullUrl"')
                tail = chunk[-8:]  # shorter than the marker: never counted twice
        wall = time.perf_counter() - started
        peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
    return {"peak_mb": peak, "size_mb": size / 2**20, "entries": entries, "seconds": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365, help="days of data (default a year)")
    args = parser.parse_args()
    keys = services.KeySet()
    person = f"fhir-{uuid.uuid4().hex[:8]}"
    with (
        services.postgres_database() as db,
        services.jwks_server(keys) as jwks,
        tempfile.TemporaryDirectory() as data_dir,
    ):
        settings = Settings(
            data_dir=Path(data_dir),
            database_url=db,
            jwt_jwks_url=jwks,
            jwt_issuer=services.ISSUER,
            jwt_audience=services.AUDIENCE,
            log_level="WARNING",
        )
        asyncio.run(HEALTH.upgrade(settings))
        print(f"storing {args.days} days of records ...", flush=True)
        records = asyncio.run(store(settings, person, args.days))
        result = asyncio.run(export(settings, keys, person))
    verdict = "met" if result["peak_mb"] <= GOAL_MB else "NOT met"
    print(f"\n{args.days} days, {records} records stored, {result['entries']:.0f} bundle entries, "
          f"{result['size_mb']:.0f} MB streamed in {result['seconds']:.0f} s")  # fmt: skip
    print(f"FHIR export peak memory growth: {result['peak_mb']:.1f} MB (goal <= {GOAL_MB:g}: "
          f"{verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
