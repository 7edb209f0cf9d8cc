"""The local run (`healthplatform up`, `make run`): the port, the one "running at" line.

A person starting the platform on a laptop reads the terminal: one line says where it
runs (http://localhost:PORT, the origin passkeys work on; never uvicorn's 127.0.0.1 URL,
where the browser refuses the passkey ceremony), and a taken port is one line saying so,
with exit code 1, before anything starts.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from pathlib import Path
from typing import Protocol

from rich.console import Console

console = Console(stderr=True)


class PortTaken(Exception):
    """The port cannot be listened on."""


class _Server(Protocol):
    started: bool
    should_exit: bool


def bind_port(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (uvicorn serves on it), or PortTaken with a
    sentence a person can act on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(
                f"port {port} is already in use (another `make run`?); stop it or pick "
                f"another port: make run PORT={port + 1}"
            ) from exc
        raise PortTaken(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def quiet_server_logs() -> None:
    """uvicorn's info lines ("Uvicorn running on http://127.0.0.1:...", startup chatter)
    are replaced by the one line of :func:`announce_when_serving`; its warnings and errors
    still show."""
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


async def announce_when_serving(server: _Server, url: str, data_dir: Path) -> None:
    """Print the one "running at" line once the server accepts connections (so a start
    that fails never claims to run)."""
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.05)
    console.print(
        f"[green]Health platform running at {url.rstrip('/')}[/green]  "
        f"(data in {data_dir}; Ctrl-C stops)",
        soft_wrap=True,
    )
