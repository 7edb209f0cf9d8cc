"""`healthplatform serve mcp`: the MCP endpoint (and the audit log read) as a service of its
own, for deployments that scale the assistant apart from the API. `up` and `serve api`
serve the same routes inside the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from healthplatform import __version__
from healthplatform.api import health
from healthplatform.api.errors import install_error_handlers
from healthplatform.api.observability import ObservabilityMiddleware
from healthplatform.assistant import http
from healthplatform.runtime import open_resources
from healthplatform.settings import Settings


def create_mcp_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings, "mcp") as res, run_mcp():
            app.state.resources = res
            yield

    app = FastAPI(title="Health MCP", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health.router)
    run_mcp = http.mount(app)
    app.add_middleware(ObservabilityMiddleware, service="mcp")
    return app
