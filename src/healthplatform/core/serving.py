"""Serving an ASGI app factory with uvicorn in one process or several.

Several workers each listen on a socket of their own with ``SO_REUSEPORT``, and the kernel
spreads new connections over them. uvicorn's own multi-process mode shares one listening
socket, and the worker that wakes first accepts every connection waiting: the eight
keep-alive clients of ``make bench-api`` (or a proxy's connection pool) landed on one
worker in every run while the other idled. With a socket per worker the kernel hashes
each new connection to one of them (eight split 4/4 to 7/1, mostly 5/3), for 15-28 % more
uploads/s (three alternating pairs of runs; docs/benchmarks.md).

The supervisor restarts a worker that dies once serving, stops every worker on SIGTERM or
SIGINT, and gives up if a worker dies before it serves (bad settings, port taken), so a
broken configuration fails instead of restarting forever.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from healthplatform.core.http_guard import MAX_HEADER_BYTES, GuardedHttpToolsProtocol

log = logging.getLogger(__name__)

# the request-head deadline and size cap uvicorn lacks (core/http_guard.py); the h11
# fallback gets the same size cap
HTTP_LIMITS: dict[str, Any] = {
    "http": GuardedHttpToolsProtocol,
    "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
}
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "proxy_headers": False,
    **HTTP_LIMITS,
}
BACKLOG = 2048  # uvicorn's default
STOP_SECONDS = 30.0  # graceful shutdown of a worker before it is killed


def serve(factory: str, host: str, port: int, workers: int) -> None:
    """Serve the app that ``factory`` (``module:function``) builds, on ``workers``
    processes; returns when stopped, raises ``SystemExit`` when it cannot serve."""
    import uvicorn

    if workers <= 1:
        uvicorn.run(factory, factory=True, host=host, port=port, **UVICORN_OPTIONS)
        return
    _refuse_if_taken(host, port)
    _Supervisor(factory, host, port, workers).run()


def listen(host: str, port: int) -> socket.socket:
    """A listening socket that other processes of this user can share (SO_REUSEPORT)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _refuse_if_taken(host: str, port: int) -> None:
    """SO_REUSEPORT would let the workers silently share the port with another process
    of this user (an instance left running, say): bind it plainly once first."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _worker(factory: str, host: str, port: int, ready: Any) -> None:
    """One worker process: its own socket, one uvicorn server; ``ready`` is set once it
    serves."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                ready.set()

    sock = listen(host, port)
    Server(uvicorn.Config(factory, factory=True, **UVICORN_OPTIONS)).run(sockets=[sock])


class _Supervisor:
    def __init__(self, factory: str, host: str, port: int, workers: int) -> None:
        self.args = (factory, host, port)
        self.count = workers
        self.context = multiprocessing.get_context("spawn")
        self.stopping = False

    def run(self) -> None:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        workers = dict(self._start() for _ in range(self.count))
        failed: int | None = None
        try:
            while not self.stopping:
                wait([w.sentinel for w in workers], timeout=1.0)
                for worker, ready in list(workers.items()):
                    if worker.is_alive() or self.stopping:
                        continue
                    del workers[worker]
                    if not ready.is_set():
                        log.error(
                            "worker %s failed to start (exit %s)", worker.pid, worker.exitcode
                        )
                        failed = worker.exitcode or 1
                        self.stopping = True
                        break
                    log.warning(
                        "worker %s exited (exit %s): restarting", worker.pid, worker.exitcode
                    )
                    workers.update([self._start()])
        finally:
            self._stop_all(list(workers))
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed is not None:
            raise SystemExit(failed)

    def _start(self) -> tuple[BaseProcess, Any]:
        ready = self.context.Event()
        worker = self.context.Process(target=_worker, args=(*self.args, ready))
        worker.start()
        return worker, ready

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self, workers: list[BaseProcess]) -> None:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + STOP_SECONDS
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join()
