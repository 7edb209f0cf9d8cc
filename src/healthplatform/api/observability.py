"""Pure ASGI middleware: request id, server span, request metrics and an access log."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthplatform.core import metrics
from healthplatform.core.logging import request_id_var

log = logging.getLogger("healthplatform.access")
_tracer = trace.get_tracer("healthplatform.http")


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        )
        token = request_id_var.set(request_id)
        ctx_token = context.attach(propagate.extract(headers))
        status = 500
        start = time.perf_counter()
        method = scope["method"]
        with _tracer.start_as_current_span(
            f"{method} {scope['path']}", kind=SpanKind.SERVER
        ) as span:

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (b"x-request-id", request_id.encode()),
                    ]
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                route = _route_template(scope)
                elapsed = time.perf_counter() - start
                span.update_name(f"{method} {route}")
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                metrics.HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
                metrics.HTTP_LATENCY.labels(self.service, method, route).observe(elapsed)
                if not route.startswith("/health") and route != "/metrics":
                    extra: dict[str, Any] = {
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                    log.info("request", extra=extra)
                context.detach(ctx_token)
                request_id_var.reset(token)
