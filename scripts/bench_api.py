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
from hashlib import sha256
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import make_bucket  # noqa: E402
from tests.support import services  # noqa: E402

from healthplatform.healthconnect.synth import synthetic_file  # noqa: E402
from healthplatform.storage.sigv4 import object_url, sign_request  # noqa: E402
from scripts.benchlib import process_cpu, production_env, wait_http  # noqa: E402

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


# Both runs use the same lean client (aiohttp, request bodies built before the clock starts):
# the client shares the two cores with the servers, so its own cost is kept small and equal.
BOUNDARY = "hp-bench-boundary"


def pids_of(*pgrep_args: str) -> list[int]:
    found = subprocess.run(["pgrep", *pgrep_args], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def multipart_body(name: str, data: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def http_session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def bare_puts(
    endpoint: str, bucket: str, files: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, list[float]]:
    """The same files PUT straight to S3 (signed requests, like the API's own)."""
    prefix = uuid.uuid4().hex
    bodies = [
        (object_url(endpoint, bucket, f"bare/{prefix}/{i}.avro"), data, sha256(data).hexdigest())
        for i, (_, data) in enumerate(files)
    ]
    failures: list[str] = []
    async with http_session(concurrency) as session:

        def job(url: str, data: bytes, digest: str) -> Callable[[], Awaitable[None]]:
            async def put() -> None:
                headers = sign_request(
                    method="PUT",
                    url=url,
                    headers={"content-type": "avro/binary"},
                    payload_sha256=digest,
                    access_key="bench",
                    secret_key="bench",
                    region="us-east-1",
                )
                async with session.put(url, data=data, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        failures.append(str(response.status))

            return put

        result = await run_clients(concurrency, [job(*body) for body in bodies])
    if failures:
        raise SystemExit(f"{len(failures)} PUTs failed, e.g. HTTP {failures[0]}")
    return result


async def api_uploads(
    base: str, keys: services.KeySet, files: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, list[float]]:
    users = [f"bench-{uuid.uuid4().hex}" for _ in range(concurrency)]
    tokens = [keys.mint(u, ttl=3600) for u in users]
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    requests = [
        ({"Authorization": f"Bearer {tokens[i % len(tokens)]}", "Content-Type": content_type},
         multipart_body(name, data))
        for i, (name, data) in enumerate(files)
    ]  # fmt: skip
    failures: list[str] = []
    async with http_session(concurrency) as session:

        def job(headers: dict[str, str], body: bytes) -> Callable[[], Awaitable[None]]:
            async def post() -> None:
                async with session.post(f"{base}/v1/upload", data=body, headers=headers) as r:
                    answer = await r.read()
                    if r.status != 202 or b'"duplicate":false' not in answer:
                        failures.append(f"{r.status} {answer[:200]!r}")

            return post

        result = await run_clients(concurrency, [job(*request) for request in requests])
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
            # looked up again at every reading: PostgreSQL starts a backend per new
            # connection, whose CPU counts from zero
            groups: dict[str, Callable[[], list[int]]] = {
                "bench client": lambda: [os.getpid()],
                "S3 server (moto)": lambda: pids_of("-f", f"tests.support.s3_server {port_s3}"),
                "API workers": lambda: services.process_tree(procs[0].pid),
                "relay": lambda: [procs[1].pid],
                # shared servers: their CPU includes anything else they serve meanwhile
                "PostgreSQL": lambda: pids_of("-u", "postgres"),
                "RabbitMQ": lambda: pids_of("-f", "beam.smp"),
            }

            def reading() -> dict[str, dict[int, float]]:
                return {name: process_cpu(find()) for name, find in groups.items()}

            cpu = [reading()]
            bare = report(
                "bare S3 PUT (floor)", *asyncio.run(bare_puts(s3, bucket, files, args.concurrency))
            )
            cpu.append(reading())
            api = report(
                "POST /v1/upload", *asyncio.run(api_uploads(base, keys, files, args.concurrency))
            )
            cpu.append(reading())
            print(f"\n{'CPU ms per operation':<24} {'bare PUT run':>12} {'API run':>10}")
            for name in groups:
                per_op = [
                    sum(t - cpu[i][name].get(pid, 0.0) for pid, t in cpu[i + 1][name].items())
                    / len(files)
                    * 1000
                    for i in (0, 1)
                ]
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
            # the broker is shared: leave no queue (and its ~2000 messages) behind
            asyncio.run(
                services.drop_rabbit_topology(env["HP_RABBITMQ_EXCHANGE"], env["HP_RABBITMQ_QUEUE"])
            )


if __name__ == "__main__":
    main()
