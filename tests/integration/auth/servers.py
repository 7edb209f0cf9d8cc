"""Run an ASGI app with uvicorn on a free port in a background thread (its own event
loop), so that other code can reach it over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from tests.support.services import free_port


@contextmanager
def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Yield ``http://host:port`` once the app has started (lifespan included)."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
