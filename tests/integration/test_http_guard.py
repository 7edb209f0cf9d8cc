"""The local server's request-head limits (core/http_guard.py), over real sockets: a slow
or silent client is cut off with 408, oversized headers get 431, normal and keep-alive
requests are untouched; `serve` and `up` use the guarded protocol."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from healthplatform.core import serving
from healthplatform.core.http_guard import MAX_HEADER_BYTES, GuardedHttpToolsProtocol
from tests.support.services import free_port

pytestmark = pytest.mark.integration

TIMEOUT = 1.0


class QuickGuard(GuardedHttpToolsProtocol):
    header_timeout = TIMEOUT


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    options = {**serving.UVICORN_OPTIONS, "http": QuickGuard}
    chosen = free_port()
    server = uvicorn.Server(
        uvicorn.Config(hello, host="127.0.0.1", port=chosen, lifespan="off", **options)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    yield chosen
    server.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT * 5)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_slow_head_is_cut_off(port: int) -> None:
    with connect(port) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(10):  # one header line every 0.3 s: never completes in time
            time.sleep(0.3)
            try:
                sock.sendall(b"X-Drip: 1\r\n")
            except OSError:
                break
        answer = read_all(sock)
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert TIMEOUT * 0.9 < elapsed < TIMEOUT + 2.5, elapsed


def test_a_silent_connection_is_closed(port: int) -> None:
    with connect(port) as sock:
        started = time.monotonic()
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < TIMEOUT + 2


def test_oversized_headers_get_431(port: int) -> None:
    with connect(port) as sock:
        big = b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 1) + b"\r\n"
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    with connect(port) as sock:  # many small headers add up too
        many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(400))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 431")


def test_normal_and_keep_alive_requests_pass(port: int) -> None:
    with connect(port) as sock:
        for _ in range(3):  # keep-alive: each head has its own deadline
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Ok: " + b"c" * 8000 + b"\r\n\r\n")
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")
            time.sleep(TIMEOUT * 0.6)  # idle between requests, under keep-alive's 5 s
        body = b"d" * 200_000  # a body may take longer than the head deadline
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 50_000):
            sock.sendall(body[i : i + 50_000])
            time.sleep(TIMEOUT * 0.5)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:80]


def test_serve_and_up_use_the_guard() -> None:
    assert serving.UVICORN_OPTIONS["http"] is GuardedHttpToolsProtocol
    assert serving.UVICORN_OPTIONS["h11_max_incomplete_event_size"] == MAX_HEADER_BYTES
    config = uvicorn.Config(hello, **serving.HTTP_LIMITS)
    config.load()
    assert config.http_protocol_class is GuardedHttpToolsProtocol
