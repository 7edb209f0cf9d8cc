"""Every metric a dashboard or alert rule of deploy/observability/platform uses is exported
by the platform (or by a documented exporter: tests/deploy/fixtures/observability/
exporter-metrics.yaml). The API, auth and ETL apps are exercised on the production backends
and their real /metrics endpoints are scraped: the API's and the auth service's routes, and
the Prometheus HTTP server `serve etl` / `serve relay` start (prometheus_client's).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import urllib.request
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from healthplatform.auth.app import create_auth_app
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import AUTH
from healthplatform.ops.backups import status as backup_status
from healthplatform.ops.housekeeping import housekeeping_once
from healthplatform.runtime import Resources
from tests.conftest import ApiClient
from tests.deploy.test_observability_rules import metric_names
from tests.integration.test_etl import process_all

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "deploy" / "observability" / "platform"
ALLOWED = yaml.safe_load(
    (ROOT / "tests" / "deploy" / "fixtures" / "observability" / "exporter-metrics.yaml").read_text()
)
AWAITED = set(ALLOWED.pop("awaited-from-backups"))
EXPORTERS = {name for names in ALLOWED.values() for name in names}


def referenced_metrics() -> dict[str, str]:
    """metric -> first place it is used, from the rule files and dashboards as committed."""
    exprs: dict[str, str] = {}
    for path in sorted((PLATFORM / "rules").glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                exprs[f"{path.name} {rule.get('alert') or rule.get('record')}"] = rule["expr"]
    for path in sorted((PLATFORM / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets") or []:
                exprs[f"{path.name} {panel['title']}"] = target["expr"]
    found: dict[str, str] = {}
    for where, expr in exprs.items():
        for name in metric_names(expr):
            found.setdefault(name, where)
    return found


def exposed(text: str) -> dict[str, int]:
    """Sample names in an exposition -> number of samples (0: declared, never observed)."""
    names: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ("",))
        for suffix in suffixes:
            names.setdefault(family.name + suffix, 0)
        for sample in family.samples:
            names[sample.name] = names.get(sample.name, 0) + 1
    return names


@pytest.mark.parametrize("settings", ["production"], indirect=True)
async def test_dashboards_and_rules_use_metrics_the_services_export(
    api: ApiClient, user: str, samples: list[Path], tmp_path: Path
) -> None:
    # The API: accepted, duplicate and refused uploads, a refused token, readiness.
    for path in samples[:2]:
        response = await api.upload(user, path.name, path.read_bytes())
        assert response.status_code == 202, response.text
    await api.upload(user, samples[0].name, samples[0].read_bytes())
    assert (await api.upload(user, "notes.avro", b"not avro")).status_code in (400, 415, 422)
    assert (await api.http.get("/v1/upload/history")).status_code == 401
    assert (await api.http.get("/health/ready")).status_code == 200
    # The relay and the ETL worker (RabbitMQ), housekeeping's outbox gauges.
    await process_all(api, user)
    res: Resources = api.app.state.resources  # type: ignore[attr-defined]
    await housekeeping_once(res)
    # The auth service: a refused ceremony, then its /metrics.
    auth_settings = AuthSettings(data_dir=tmp_path, rp_id="localhost")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, AUTH.upgrade(auth_settings)).result()
    auth_app = create_auth_app(auth_settings)
    async with auth_app.router.lifespan_context(auth_app):
        transport = httpx.ASGITransport(app=auth_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as auth:
            await auth.post("/authenticate/complete", json={"request_id": "nope"})
            auth_text = (await auth.get("/metrics")).text
    api_text = (await api.http.get("/metrics")).text
    # `serve etl` and `serve relay` expose the registry with prometheus_client's HTTP server.
    server, thread = start_http_server(0, addr="127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            worker_text = answer.read().decode()
    finally:
        server.shutdown()
        thread.join(5)

    scraped = exposed(api_text) | exposed(auth_text) | exposed(worker_text)
    referenced = referenced_metrics()
    platform = {
        name: where
        for name, where in referenced.items()
        if name not in EXPORTERS and ":" not in name
    }
    assert len(platform) > 25
    missing = {
        name: where
        for name, where in platform.items()
        if name not in scraped and name not in AWAITED
    }
    assert not missing, f"used by dashboards/rules but exported by no service: {missing}"
    # Exercised, not only declared: the series the SLO rules and the ETL panels read.
    for name in (
        "hp_http_requests_total",
        "hp_http_request_duration_seconds_bucket",
        "hp_uploads_accepted_total",
        "hp_uploads_rejected_total",
        "hp_uploads_duplicate_total",
        "hp_tokens_refused_total",
        "hp_dependency_up",
        "hp_outbox_published_total",
        "hp_outbox_oldest_pending_age_seconds",
        "hp_etl_uploads_processed_total",
        "hp_etl_queue_lag_seconds_bucket",
        "hp_etl_processing_seconds_bucket",
        "hp_auth_failures_total",
    ):
        assert scraped.get(name, 0) > 0, f"{name} has no samples after exercising the services"
    assert 'service="api"' in api_text
    assert 'service="auth"' in auth_text
    # Backup metrics: awaited from the backups work; they must at least be defined in code.

    defined = {
        metric._name
        for metric in vars(backup_status).values()
        if hasattr(metric, "_name") and hasattr(metric, "_type")
    }
    assert defined >= AWAITED
