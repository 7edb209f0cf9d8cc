"""One upload is one trace: the API's request span, the outbox row's headers, the broker
message's headers and the ETL worker's `etl.process_upload` span share the trace id, and the
worker span's parent is the request span. Runs on the production backends (outbox -> relay
-> RabbitMQ -> worker) and on the embedded ones (the outbox table is the queue).

The services use the global tracer provider of healthplatform.core.tracing; the test adds an
in-memory exporter to it. Sampling is HP_OTEL_SAMPLE_RATIO (parent-based ratio sampling).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from healthplatform.core import tracing
from healthplatform.db.models import OutboxEvent
from healthplatform.etl import worker
from healthplatform.runtime import Resources
from healthplatform.settings import Settings
from tests.conftest import ApiClient
from tests.integration.test_etl import process_all

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    tracing.configure_tracing("tests", "test", "", 1.0)  # no-op when already configured
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "the global tracer provider is not the SDK's"
    assert "TraceIdRatioBased{1.0}" in provider.sampler.get_description()
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield spans
    spans.shutdown()


class CarrierSpy:
    """Stands in for opentelemetry.propagate in the worker: records what it extracts from."""

    def __init__(self) -> None:
        self.carriers: list[dict[str, Any]] = []

    def extract(self, carrier: Mapping[str, Any]) -> context.Context:
        self.carriers.append(dict(carrier))
        return propagate.extract(carrier)


def trace_id_of(traceparent: str) -> int:
    return int(traceparent.split("-")[1], 16)


@pytest.mark.parametrize("settings", ["production", "embedded"], indirect=True)
async def test_upload_is_one_trace_from_request_to_worker(
    api: ApiClient,
    user: str,
    samples: list[Path],
    settings: Settings,
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = CarrierSpy()
    monkeypatch.setattr(worker, "propagate", spy)
    exporter.clear()
    response = await api.upload(user, samples[0].name, samples[0].read_bytes())
    assert response.status_code == 202, response.text
    upload_id = str(response.json()["correlation_id"])

    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    async with res.sessions() as session:
        events = (await session.execute(select(OutboxEvent))).scalars().all()
    event = next(e for e in events if str(e.payload.get("upload_id")) == upload_id)
    assert "traceparent" in event.headers

    await process_all(api, user)
    spans: list[ReadableSpan] = list(exporter.get_finished_spans())
    # The platform's request span (ObservabilityMiddleware); FastAPI's own telemetry may add
    # another server span, which is not the one the outbox event carries.
    request = next(
        s
        for s in spans
        if s.kind is SpanKind.SERVER
        and s.name == "POST /v1/upload"
        and s.instrumentation_scope is not None
        and s.instrumentation_scope.name == "healthplatform.http"
    )
    processing = next(
        s
        for s in spans
        if s.name == "etl.process_upload" and (s.attributes or {}).get("upload.id") == upload_id
    )
    assert request.context is not None and processing.context is not None
    trace_id = request.context.trace_id
    assert trace_id_of(event.headers["traceparent"]) == trace_id  # outbox row
    delivered = [c for c in spy.carriers if "traceparent" in c]
    assert any(trace_id_of(str(c["traceparent"])) == trace_id for c in delivered)  # broker/queue
    if settings.events_backend.value == "rabbitmq":
        # AMQP headers seen by the consumer: the outbox headers plus the broker's own.
        assert all("traceparent" in c for c in spy.carriers)
    assert processing.context.trace_id == trace_id
    assert processing.parent is not None and processing.parent.span_id == request.context.span_id
    assert processing.kind is SpanKind.CONSUMER
    assert uuid.UUID(upload_id)


def test_sampling_ratio_comes_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """HP_OTEL_SAMPLE_RATIO (1.0 locally, lower in production) sets parent-based sampling:
    a request that arrives sampled stays sampled, new traces are kept at the ratio."""
    monkeypatch.setenv("HP_OTEL_SAMPLE_RATIO", "0.1")
    ratio = Settings().otel_sample_ratio
    assert ratio == 0.1
    installed: list[TracerProvider] = []
    monkeypatch.setattr(tracing, "_configured", False)
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)
    tracing.configure_tracing("api", "production", "", ratio)
    description = installed[0].sampler.get_description()
    assert description.startswith("ParentBased{root:TraceIdRatioBased{0.1},")
    assert "remoteParentSampled:AlwaysOnSampler" in description
    assert Settings.model_fields["otel_sample_ratio"].default == 1.0
