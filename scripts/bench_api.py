"""Upload benchmark: the Health API on the production backends against bare S3 PUTs.

Starts a moto S3 server, a fresh PostgreSQL database, the API (`healthplatform serve api`)
and the outbox relay as separate processes, then uploads distinct realistic files from
concurrent clients and prints uploads/s and latency percentiles. In the same run, the same
files are PUT straight to the same S3 server at the same concurrency: the floor no API can
beat. Usage: `make bench-api` or `python scripts/bench_api.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aioboto3
import httpx
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import make_bucket  # noqa: E402
from tests.support import services  # noqa: E402

from healthplatform.healthconnect.synth import synthetic_file  # noqa: E402
from scripts.benchlib import children, cpu_seconds, production_env, wait_http  # noqa: E402

# A day of phone exports: mostly glucose (CGM, ~250 readings/day), heart rate, HRV, steps.
MIX = [
    ("BloodGlucoseRecord", 250),
    ("HeartRateRecord", 80),
    ("HeartRateVariabilityRmssdRecord", 75),
    ("StepsRecord", 24),
    ("SleepSessionRecord", 2),
    ("ActiveCaloriesBurnedRecord", 24),
]


def make_files(n: int) -> list[tuple[str, bytes]]:
    files = []
    for i in range(n):
        record_type, count = MIX[i % len(MIX)]
        data = synthetic_file(record_type, count, seed=i, start_ms=1_758_400_000_000 + i * 1000)
        files.append((f"{record_type}_{1_758_400_000_000 + i}.avro", data))
    return files


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run_clients(
    concurrency: int, jobs: list[Callable[[], Awaitable[None]]]
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []

    async def client() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            started = time.perf_counter()
            await job()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def report(name: str, elapsed: float, latencies: list[float]) -> dict[str, float]:
    row = {
        "ops_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }
    print(
        f"{name:<24} {len(latencies):>6} {row['ops_per_s']:>10.1f} {row['p50_ms']:>9.1f} "
        f"{row['p95_ms']:>9.1f} {row['p99_ms']:>9.1f}"
    )
    return row


async def bare_puts(
    endpoint: str, bucket: str, files: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, list[float]]:
    session = aioboto3.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )
    config = Config(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=64,
    )
    async with session.client("s3", endpoint_url=endpoint, config=config) as s3:
        prefix = uuid.uuid4().hex

        def job(i: int, data: bytes) -> Callable[[], Awaitable[None]]:
            async def put() -> None:
                await s3.put_object(Bucket=bucket, Key=f"bare/{prefix}/{i}.avro", Body=data)

            return put

        return await run_clients(concurrency, [job(i, d) for i, (_, d) in enumerate(files)])


async def api_uploads(
    base: str, keys: services.KeySet, files: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, list[float]]:
    users = [f"bench-{uuid.uuid4().hex}" for _ in range(concurrency)]
    tokens = [keys.mint(u, ttl=3600) for u in users]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        failures: list[str] = []

        def job(i: int, name: str, data: bytes) -> Callable[[], Awaitable[None]]:
            async def post() -> None:
                response = await client.post(
                    "/v1/upload",
                    headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
                    files={"file": (name, data, "application/octet-stream")},
                )
                if response.status_code != 202 or response.json()["duplicate"]:
                    failures.append(f"{response.status_code} {response.text[:200]}")

            return post

        result = await run_clients(concurrency, [job(i, n, d) for i, (n, d) in enumerate(files)])
    if failures:
        raise SystemExit(f"{len(failures)} uploads failed, e.g. {failures[0]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=2000, help="files per measured run")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    args = parser.parse_args()

    files = make_files(args.uploads)
    warmup = make_files(args.uploads + 100)[args.uploads :]
    size = sum(len(d) for _, d in files) / len(files)
    keys = services.KeySet()
    port = services.free_port()
    with (
        services.moto_s3_server() as s3,
        services.postgres_database() as db,
        services.jwks_server(keys) as jwks,
    ):
        bucket = "bench-lake"
        make_bucket(s3, bucket)
        env = production_env(s3, bucket, db, jwks, f"bench-{port}")
        env.update(HP_RATE_LIMIT_PER_MINUTE="1000000", HP_RATE_LIMIT_BURST="100000")
        exe = str(Path(sys.executable).parent / "healthplatform")
        subprocess.run([exe, "migrate"], env=env, check=True, capture_output=True)
        procs = [
            subprocess.Popen(
                [
                    exe,
                    "serve",
                    "api",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(args.workers),
                ],
                env=env,
            ),
            subprocess.Popen(
                [exe, "serve", "relay", "--metrics-port", str(services.free_port())], env=env
            ),
        ]
        try:
            wait_http(f"http://127.0.0.1:{port}/health/ready")
            base = f"http://127.0.0.1:{port}"
            asyncio.run(api_uploads(base, keys, warmup, args.concurrency))
            print(
                f"\n{args.uploads} distinct files, mean {size / 1024:.1f} KiB, "
                f"{args.concurrency} concurrent clients, API with {args.workers} workers, "
                f"{os.cpu_count()} CPUs\n"
            )
            print(f"{'run':<24} {'ops':>6} {'ops/s':>10} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
            port_s3 = s3.rsplit(":", 1)[1]
            moto = subprocess.run(
                ["pgrep", "-f", f"moto_server -H 127.0.0.1 -p {port_s3}"],
                capture_output=True,
                text=True,
                check=True,
            )
            groups = {
                "bench client": [os.getpid()],
                "S3 server (moto)": [int(p) for p in moto.stdout.split()],
                "API workers": children(procs[0].pid),
                "relay": [procs[1].pid],
            }
            cpu = [cpu_seconds(groups)]
            bare = report(
                "bare S3 PUT (floor)", *asyncio.run(bare_puts(s3, bucket, files, args.concurrency))
            )
            cpu.append(cpu_seconds(groups))
            api = report(
                "POST /v1/upload", *asyncio.run(api_uploads(base, keys, files, args.concurrency))
            )
            cpu.append(cpu_seconds(groups))
            print(f"\n{'CPU ms per operation':<24} {'bare PUT run':>12} {'API run':>10}")
            for name in groups:
                per_op = [(cpu[i + 1][name] - cpu[i][name]) / len(files) * 1000 for i in (0, 1)]
                print(f"  {name:<22} {per_op[0]:>12.2f} {per_op[1]:>10.2f}")
            print(
                f"\nAPI / bare-PUT throughput: {api['ops_per_s'] / bare['ops_per_s']:.2f} "
                f"(target >= 0.5); vs previous implementation (~7.5/s): "
                f"{api['ops_per_s'] / 7.5:.0f}x (target >= 10x); "
                f"p95 {api['p95_ms']:.1f} ms (target < 50 ms)"
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(15)


if __name__ == "__main__":
    main()
