"""`serve api --workers N`: each worker on its own SO_REUSEPORT socket, so keep-alive
connections spread over the workers; a dead worker is replaced; SIGTERM stops them all;
a port in use or a worker that cannot start fails the command instead of looping."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from healthplatform.settings import Settings
from tests.integration.test_etl_crash import settings_env
from tests.support.processes import EXE
from tests.support.services import free_port, process_tree

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def broken_factory() -> object:
    """An app factory that fails, as bad settings or a missing dependency would."""
    raise RuntimeError("cannot build the app")


def _socket_inodes(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local ``port`` in ``state`` (01 established, 0A listen)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def sockets_by_process(pids: list[int], port: int, state: str) -> dict[int, int]:
    inodes = _socket_inodes(port, state)
    counts = {}
    for pid in pids:
        links = []
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # exited (and was reaped) since process_tree listed it
            continue
        for fd in fds:
            try:
                links.append(os.readlink(fd))
            except OSError:
                continue
        counts[pid] = sum(link[8:-1] in inodes for link in links if link.startswith("socket:["))
    return counts


def workers_of(supervisor: subprocess.Popen[bytes], port: int) -> list[int]:
    listening = sockets_by_process(process_tree(supervisor.pid), port, "0A")
    return sorted(pid for pid, n in listening.items() if n)


def wait_for(condition, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def live(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health/live")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@pytest.fixture
def api_with_two_workers(
    embedded_settings: Settings,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    supervisor = subprocess.Popen(
        [EXE, "serve", "api", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=settings_env(embedded_settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(workers_of(supervisor, port)) == 2 and live(port))
        wait_for(lambda: all(answered_by_worker(supervisor, port).values()))  # both serve
        yield supervisor, port
    finally:
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(40)


def answered_by_worker(supervisor: subprocess.Popen[bytes], port: int) -> dict[int, int]:
    """Open 16 keep-alive connections, get an answer on each, and count them per worker
    (all on one worker by chance: 2 in 65,536)."""
    connections = []
    try:
        for _ in range(16):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connections.append(conn)
            conn.request("GET", "/health/live")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        held = sockets_by_process(workers_of(supervisor, port), port, "01")
        assert sum(held.values()) == 16
        return held
    finally:
        for conn in connections:
            conn.close()


def test_keep_alive_connections_spread_over_the_workers(
    api_with_two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    held = answered_by_worker(*api_with_two_workers)
    assert len(held) == 2 and all(n > 0 for n in held.values()), held


def test_a_dead_worker_is_replaced(
    api_with_two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    supervisor, port = api_with_two_workers
    first, second = workers_of(supervisor, port)
    os.kill(first, signal.SIGKILL)
    workers = wait_for(
        lambda: (w := workers_of(supervisor, port)) and len(w) == 2 and first not in w and w
    )
    assert second in workers
    # a connection the kernel hands to the new worker's socket waits until that worker
    # has started (seconds on a loaded machine): live once it answers
    assert wait_for(lambda: live(port))


def test_sigterm_stops_every_worker(
    api_with_two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    supervisor, port = api_with_two_workers
    workers = workers_of(supervisor, port)
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(40) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert not live(port)


def test_port_in_use_fails_at_once(embedded_settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [EXE, "serve", "api", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=settings_env(embedded_settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr + result.stdout


def test_a_worker_that_cannot_start_fails_the_command() -> None:
    code = (
        "from healthplatform.core.serving import serve; "
        f"serve('tests.integration.test_serving:broken_factory', '127.0.0.1', {free_port()}, 2)"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert time.monotonic() - started < 30  # gave up, did not restart the worker forever
