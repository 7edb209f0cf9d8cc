"""Real backing services for tests: a moto S3 server process, a fresh PostgreSQL database,
Redis and RabbitMQ names unique to this run, and a JWKS server with keys the tests own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PG_ADMIN_DSN = os.environ.get("HP_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBIT_URL = os.environ.get("HP_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
ISSUER = "https://auth.test"
AUDIENCE = "healthplatform-api"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc); processes that exit meanwhile are
    left out."""
    found = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            found += process_tree(int(kid))
    return found


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


async def drop_rabbit_topology(exchange: str, queue: str) -> None:
    """Delete what :func:`healthplatform.events.rabbit.declare` made for this exchange and
    queue (both queues, both exchanges): the broker is shared by every test and benchmark
    run and keeps whatever is left, messages included."""
    import aio_pika

    from healthplatform.events.rabbit import Topology

    topology = Topology(exchange, queue, 1)
    connection = await aio_pika.connect(RABBIT_URL, timeout=5)
    try:
        channel = await connection.channel()
        for name in (topology.queue, topology.dead_letter_queue):
            await channel.queue_delete(name)
        for name in (topology.exchange, topology.dead_letter_exchange):
            await channel.exchange_delete(name)
    finally:
        await connection.close()


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """A real S3 HTTP server (moto's S3 backend, in its own process) that keeps
    connections alive like real S3 endpoints (see :mod:`tests.support.s3_server`)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.s3_server", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL; dropped afterwards."""
    import asyncio

    import asyncpg

    name = f"hp_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class KeySet:
    """Signing keys the tests own, published as a JWKS over real HTTP."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa_kid = "rsa-1"
        self.ec_kid = "ec-1"
        self.extra: list[dict[str, Any]] = []
        self.fetches = 0

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        rsa_jwk.update(kid=self.rsa_kid, use="sig", alg="RS256")
        ec_jwk.update(kid=self.ec_kid, use="sig", alg="ES256")
        return {"keys": [rsa_jwk, ec_jwk, *self.extra]}

    def mint(
        self, sub: str, *, alg: str = "RS256", kid: str | None = None, ttl: int = 900, **claims: Any
    ) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "sid": uuid.uuid4().hex,
            **claims,
        }
        key: Any = self.rsa if alg.startswith("RS") else self.ec
        default_kid = self.rsa_kid if alg.startswith("RS") else self.ec_kid
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid or default_kid})


@contextmanager
def jwks_server(keys: KeySet) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            keys.fetches += 1
            body = json.dumps(keys.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
