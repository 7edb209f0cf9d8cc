"""The ServiceMonitors and PodMonitors of deploy/charts/healthplatform scrape what exists.

The chart is rendered with monitoring on (every profile, all optional features). Pods that
operators create are derived here, from the upstream sources at the pinned versions:
CloudNativePG instance pods (labels `cnpg.io/cluster`, `cnpg.io/podRole: instance` plus the
Cluster's inheritedMetadata; ports postgresql 5432, metrics 9187, status 8000) and the
Envoy proxy pods Envoy Gateway runs for a Gateway (labels app.kubernetes.io/name=envoy,
component=proxy, managed-by=envoy-gateway, owning-gateway-name/-namespace; ports metrics
19001, readiness 19003) in its namespace. Checked: selectors select pods/Services in the
namespaces the monitor looks at, ports exist on the Service and behind it, every workload
of the platform is scraped (Valkey excepted, docs/observability.md), and the alert rules'
job regex matches every job. Each check fails on a broken fixture.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import kube
from tests.deploy.test_charts import ALL_FEATURES, PROFILES, render
from tests.deploy.test_observability import FIXTURES, OBS

pytestmark = pytest.mark.deploy

ENVOY_NAMESPACE = "envoy-gateway-system"
# Workloads without a monitor, and why (docs/observability.md, "What is scraped").
UNMONITORED = {
    "valkey-health": "no exporter (Always Free CPU); the API's rate_limiter check stands in",
    "valkey-auth": "no exporter: the auth service's readiness (challenge_store) stands in",
    "s3": "optional in-cluster SeaweedFS, not used on Always Free",
}


def operator_pods(
    docs: list[kube.Doc], namespace: str
) -> list[tuple[str, dict[str, str], dict[str, int]]]:
    """(namespace, labels, named container ports) of pods operators create."""
    pods = []
    for cluster in kube.of_kind(docs, "Cluster"):
        name = kube.name_of(cluster)
        labels = {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance", "role": "primary"}
        labels |= (cluster["spec"].get("inheritedMetadata") or {}).get("labels") or {}
        pods.append((namespace, labels, {"postgresql": 5432, "metrics": 9187, "status": 8000}))
    for gateway in kube.of_kind(docs, "Gateway"):
        labels = {
            "app.kubernetes.io/name": "envoy",
            "app.kubernetes.io/component": "proxy",
            "app.kubernetes.io/managed-by": "envoy-gateway",
            "gateway.envoyproxy.io/owning-gateway-name": kube.name_of(gateway),
            "gateway.envoyproxy.io/owning-gateway-namespace": namespace,
        }
        pods.append((ENVOY_NAMESPACE, labels, {"metrics": 19001, "readiness": 19003}))
    return pods


def all_pods(
    docs: list[kube.Doc], namespace: str
) -> list[tuple[str, dict[str, str], dict[str, int], str]]:
    """(namespace, labels, named ports, owner) of rendered and operator-made pods."""
    pods = []
    for pt in kube.pod_templates(docs):
        ports = {
            p["name"]: int(p["containerPort"])
            for c in pt.containers(init=False)
            for p in c.get("ports") or []
            if "name" in p
        }
        pods.append((namespace, pt.labels, ports, pt.ref))
    for ns, labels, ports in operator_pods(docs, namespace):
        owner = labels.get("cnpg.io/cluster") or labels["gateway.envoyproxy.io/owning-gateway-name"]
        pods.append((ns, labels, ports, f"operator pod of {owner}"))
    return pods


def namespaces_of(monitor: kube.Doc, namespace: str) -> set[str] | None:
    """Namespaces a monitor selects in (None: any)."""
    selector = monitor["spec"].get("namespaceSelector") or {}
    if selector.get("any"):
        return None
    return set(selector.get("matchNames") or [namespace])


def monitor_problems(docs: list[kube.Doc], namespace: str = kube.RENDER_NAMESPACE) -> list[str]:
    problems: list[str] = []
    pods = all_pods(docs, namespace)
    services = [s for s in kube.of_kind(docs, "Service")]
    for sm in kube.of_kind(docs, "ServiceMonitor"):
        where = kube.ref(sm)
        if namespaces_of(sm, namespace) not in (None, {namespace}):
            problems.append(
                f"{where}: looks in {namespaces_of(sm, namespace)}, Services are in {namespace}"
            )
        selected = [s for s in services if kube.matches(sm["spec"]["selector"], kube.labels_of(s))]
        if not selected:
            problems.append(f"{where}: selects no Service")
        for svc in selected:
            ports = {p.get("name"): p for p in svc["spec"].get("ports") or []}
            behind = [
                p for p in pods if p[0] == namespace and kube.matches(svc["spec"]["selector"], p[1])
            ]
            for endpoint in sm["spec"].get("endpoints") or []:
                port = ports.get(endpoint.get("port"))
                if port is None:
                    problems.append(
                        f"{where}: {kube.ref(svc)} has no port {endpoint.get('port')!r}"
                    )
                    continue
                target = port.get("targetPort", port["port"])
                for pod in behind:
                    if target not in pod[2] and target not in pod[2].values():
                        problems.append(f"{where}: targetPort {target!r} is not a port of {pod[3]}")
    for pm in kube.of_kind(docs, "PodMonitor"):
        where = kube.ref(pm)
        allowed = namespaces_of(pm, namespace)
        chosen = [
            p
            for p in pods
            if (allowed is None or p[0] in allowed) and kube.matches(pm["spec"]["selector"], p[1])
        ]
        if not chosen:
            problems.append(f"{where}: selects no pod in {sorted(allowed or ['any namespace'])}")
        for endpoint in pm["spec"].get("podMetricsEndpoints") or []:
            for _, _, ports, owner in chosen:
                if endpoint.get("port") not in ports:
                    problems.append(
                        f"{where}: port {endpoint.get('port')!r} is not a port of {owner}"
                    )
    return problems


def scraped_components(docs: list[kube.Doc], namespace: str = kube.RENDER_NAMESPACE) -> set[str]:
    """app.kubernetes.io/name of every workload some monitor scrapes."""
    pods = all_pods(docs, namespace)
    found: set[str] = set()
    for sm in kube.of_kind(docs, "ServiceMonitor"):
        for svc in kube.of_kind(docs, "Service"):
            if kube.matches(sm["spec"]["selector"], kube.labels_of(svc)):
                found |= {
                    p[1].get("app.kubernetes.io/name", "")
                    for p in pods
                    if kube.matches(svc["spec"]["selector"], p[1])
                }
    for pm in kube.of_kind(docs, "PodMonitor"):
        found |= {
            p[1].get("app.kubernetes.io/name", "")
            for p in pods
            if kube.matches(pm["spec"]["selector"], p[1])
        }
    return found


def jobs(docs: list[kube.Doc], namespace: str = kube.RENDER_NAMESPACE) -> set[str]:
    """The `job` label Prometheus Operator gives the targets of each monitor."""
    names = {
        kube.name_of(s)
        for sm in kube.of_kind(docs, "ServiceMonitor")
        for s in kube.of_kind(docs, "Service")
        if kube.matches(sm["spec"]["selector"], kube.labels_of(s))
    }
    return names | {f"{namespace}/{kube.name_of(pm)}" for pm in kube.of_kind(docs, "PodMonitor")}


@pytest.mark.parametrize("profile", PROFILES)
def test_monitors_scrape_what_exists(profile: str) -> None:
    docs = render(profile, **ALL_FEATURES)
    assert not monitor_problems(docs)
    assert {kube.ref(d) for d in kube.of_kind(docs, "PodMonitor")} == {
        "PodMonitor/healthplatform-health-db",
        "PodMonitor/healthplatform-auth-db",
        "PodMonitor/healthplatform-envoy-proxy",
    }


def test_every_workload_is_scraped() -> None:
    docs = render("always-free", **ALL_FEATURES)
    workloads = {
        pt.labels["app.kubernetes.io/name"]
        for pt in kube.pod_templates(docs)
        if pt.owner["kind"] in ("Deployment", "StatefulSet")
    } | {"health-db", "auth-db", "envoy"}
    missing = workloads - scraped_components(docs) - set(UNMONITORED)
    assert not missing
    assert {
        "api",
        "auth",
        "etl-worker",
        "relay",
        "rabbitmq",
        "health-db",
        "auth-db",
        "envoy",
    } <= scraped_components(docs)


def test_app_monitors_keep_the_apps_service_label() -> None:
    docs = render("always-free", **ALL_FEATURES)
    for sm in kube.of_kind(docs, "ServiceMonitor"):
        endpoints = sm["spec"]["endpoints"]
        assert all(e["interval"] == "60s" for e in endpoints)
        if kube.labels_of(sm)["healthplatform.io/layer"] == "apps":
            assert all(e.get("honorLabels") is True for e in endpoints), kube.ref(sm)
    rabbit = kube.find(docs, "ServiceMonitor", "healthplatform-rabbitmq")
    assert rabbit is not None and rabbit["spec"]["endpoints"][0]["path"] == "/metrics/per-object"


def test_target_down_alert_covers_every_job() -> None:
    docs = render("always-free", **ALL_FEATURES)
    rules = yaml.safe_load((OBS / "platform" / "rules" / "availability.yaml").read_text())
    expr = next(
        r["expr"]
        for g in rules["groups"]
        for r in g["rules"]
        if r.get("alert") == "HealthPlatformTargetDown"
    )
    regex = re.search(r'job=~"([^"]+)"', expr)
    assert regex is not None
    found = jobs(docs)
    assert len(found) >= 8
    assert all(re.fullmatch(regex.group(1), job) for job in found), found


def test_monitor_checks_fail_on_broken_fixture() -> None:
    docs = render("always-free", **ALL_FEATURES)
    broken: list[dict[str, Any]] = helm_chart.parse_documents(
        (FIXTURES / "monitors-broken.yaml").read_text()
    )
    names = {kube.ref(d) for d in broken}
    kept = [d for d in docs if kube.ref(d) not in names]
    problems = monitor_problems(kept + broken)
    assert "PodMonitor/healthplatform-health-db: selects no pod in ['hp-render-check']" in problems
    assert any(
        "PodMonitor/healthplatform-auth-db: port 'exporter' is not a port of" in p for p in problems
    )
    assert (
        "PodMonitor/healthplatform-envoy-proxy: selects no pod in ['hp-render-check']" in problems
    )
    assert (
        "ServiceMonitor/healthplatform-relay: Service/healthplatform-relay has no port 'http'"
        in problems
    )
    assert "ServiceMonitor/healthplatform-api: selects no Service" in problems
