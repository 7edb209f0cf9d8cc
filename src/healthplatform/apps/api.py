"""Application factory of the Health API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from healthplatform import __version__, web
from healthplatform.api import health
from healthplatform.api.errors import install_error_handlers
from healthplatform.api.observability import ObservabilityMiddleware
from healthplatform.assistant import http as assistant
from healthplatform.core.cors import CorsMiddleware
from healthplatform.days import endpoints as day_endpoints
from healthplatform.exports import endpoints as export_endpoints
from healthplatform.fhir import endpoints as fhir_endpoints
from healthplatform.me import endpoints as me_endpoints
from healthplatform.me import samples as me_samples
from healthplatform.narratives import endpoints as narrative_endpoints
from healthplatform.runtime import Resources, open_resources
from healthplatform.settings import Settings
from healthplatform.trends import endpoints as trend_endpoints
from healthplatform.uploads import endpoints as upload_endpoints


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings, resources: Resources | None = None) -> FastAPI:
    """Build the API. With ``resources`` given, the caller owns their lifetime
    (the all-in-one process shares them between services)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if resources is not None:
            app.state.resources = resources
            async with run_mcp():
                yield
            return
        async with open_resources(settings, "api") as res, run_mcp():
            app.state.resources = res
            yield

    app = FastAPI(
        title="Health API",
        version=__version__,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # FastAPI's pages load unpinned script from a CDN; JSON only
        redoc_url=None,
        # ObservabilityMiddleware makes the server span (joining an incoming traceparent);
        # FastAPI's own would start a second, disconnected trace per request
        telemetry={"tracing": False},
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(upload_endpoints.router)
    app.include_router(me_endpoints.router)
    app.include_router(narrative_endpoints.router)
    app.include_router(export_endpoints.router)
    app.include_router(day_endpoints.router)
    app.include_router(fhir_endpoints.router)
    run_mcp = assistant.mount(app)  # /mcp and /v1/me/assistant-audit
    app.include_router(trend_endpoints.router)
    app.include_router(me_samples.router)
    app.include_router(web.router)
    app.add_middleware(CorsMiddleware, origins=settings.cors_origins)
    app.add_middleware(ObservabilityMiddleware, service="api")
    return app
