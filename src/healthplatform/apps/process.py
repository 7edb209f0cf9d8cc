"""What every long-running process shares: logging, tracing, the stop signal, periodic jobs
(light imports: the CLI loads this module before any command runs)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from healthplatform.core.console import console
from healthplatform.settings import Settings


def configure(settings: Settings, service: str) -> None:
    """Logging and tracing of one service."""
    from healthplatform.core.logging import configure_logging
    from healthplatform.core.tracing import configure_tracing

    configure_logging(service, settings.log_level, settings.log_format.value)
    configure_tracing(
        service,
        settings.environment,
        settings.otel_exporter_otlp_endpoint,
        settings.otel_sample_ratio,
    )


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def every(
    seconds: float,
    job: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    at_start: bool = False,
) -> None:
    """Run ``job`` every ``seconds`` until ``stop``; a failure is printed, not raised."""
    if at_start:
        with contextlib.suppress(Exception):
            await job()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        if not stop.is_set():
            try:
                await job()
            except Exception as exc:
                console.print(f"[yellow]periodic job failed:[/yellow] {exc}")
