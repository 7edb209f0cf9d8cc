"""Shared pieces of the benchmark scripts: production-backend environment, CPU accounting."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
from tests.support import services


def production_env(s3: str, bucket: str, database_url: str, jwks: str, tag: str) -> dict[str, str]:
    """HP_* variables pointing every service at the real servers (names unique per run)."""
    return {
        **os.environ,
        "HP_DATABASE_URL": database_url,
        "HP_OBJECT_STORE": "s3",
        "HP_S3_ENDPOINT_URL": s3,
        "HP_S3_BUCKET": bucket,
        "HP_S3_ACCESS_KEY_ID": "bench",
        "HP_S3_SECRET_ACCESS_KEY": "bench",
        "HP_EVENTS_BACKEND": "rabbitmq",
        "HP_RABBITMQ_EXCHANGE": tag,
        "HP_RABBITMQ_QUEUE": f"{tag}.etl",
        "HP_REDIS_URL": services.REDIS_URL,
        "HP_REDIS_KEY_PREFIX": f"{tag}:",
        "HP_JWT_JWKS_URL": jwks,
        "HP_JWT_ISSUER": services.ISSUER,
        "HP_JWT_AUDIENCE": services.AUDIENCE,
        "HP_LOG_LEVEL": "WARNING",
    }


def process_cpu(pids: list[int]) -> dict[int, float]:
    """CPU time (user+system) used so far by each process (Linux /proc); gone ones are
    left out."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return out


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready")
