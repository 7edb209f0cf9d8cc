"""Reachability of the rendered chart: NetworkPolicies against the flow matrix.

For every profile (with and without the optional features) the chart is rendered and put
into a model of the cluster it runs in (healthplatform_deploy.network_world.platform_world):
rendered pods, CloudNativePG instances, the HTTP-01 solver, Envoy Gateway's proxies, the
peers of values security.peers, kube-dns, strangers and addresses outside the cluster.
Then:

* allowed connections == the flow matrix (values security.flows): every flow works, DNS
  included, and nothing else does;
* every connection the render shows a workload making (in-cluster URLs, route and JWKS
  backends, ServiceMonitors, KEDA, DNS, CloudNativePG) is allowed and in the matrix;
* invariants that do not depend on the matrix: health services never reach the auth
  database or the auth Valkey, nothing but the gateway (and the two listed exceptions)
  reaches the services' HTTP ports, nobody reaches the cloud metadata service.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthplatform_deploy import context as render_context
from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import kube, network_policy, network_world, reachability
from tests.deploy.test_charts import ALL_FEATURES, CHART, PROFILES, REPO, render, values_files

pytestmark = pytest.mark.deploy

NS = kube.RENDER_NAMESPACE
FEATURES = ("profile", "all-features")
HEALTH_SIDE = ("api", "etl-worker", "relay", "migrate-health")
AUTH_SIDE = ("auth", "migrate-auth", "auth-maintain")
AUTH_STORES = ("auth-db", "valkey-auth")
HEALTH_STORES = ("health-db", "valkey-health", "rabbitmq", "s3")
# Who may reach the services' HTTP ports besides the gateway, and why.
HTTP_EXCEPTIONS = {
    "api": {"prometheus"},  # /metrics is served on the API port
    "auth": {"prometheus", "api"},  # /metrics; the API reads the JWKS
}
# Settings a container receives from a shared ConfigMap/env block without using them
# (the process never opens that connection): (component, service component, variable).
UNUSED_SETTINGS = {
    ("api", "rabbitmq", "HP_RABBITMQ_URL"): "the API writes the outbox; the relay publishes",
    ("etl-worker", "valkey-health", "HP_REDIS_URL"): "only the API rate-limits",
    ("relay", "valkey-health", "HP_REDIS_URL"): "only the API rate-limits",
    ("etl-worker", "auth", "HP_JWT_JWKS_URL"): "only the API verifies tokens",
    ("relay", "auth", "HP_JWT_JWKS_URL"): "only the API verifies tokens",
    ("auth-maintain", "auth", "HP_JWT_JWKS_URL"): "shared ConfigMap; maintain signs nothing",
    ("auth-maintain", "valkey-auth", "HP_AUTH_REDIS_URL"): "maintain only uses the database",
    ("auth", "s3", "HP_S3_ENDPOINT_URL"): "shared ConfigMap; auth stores no objects",
    ("auth-maintain", "s3", "HP_S3_ENDPOINT_URL"): "shared ConfigMap; auth stores no objects",
    ("backup", "auth", "HP_JWT_JWKS_URL"): "shared ConfigMap; backups verify no tokens",
    ("backup-verify", "auth", "HP_JWT_JWKS_URL"): "shared ConfigMap; backups verify no tokens",
    ("etl-worker", "auth", "HP_REVOCATION_URL"): "only the API verifies tokens",
    ("relay", "auth", "HP_REVOCATION_URL"): "only the API verifies tokens",
    ("auth-maintain", "auth", "HP_REVOCATION_URL"): "shared ConfigMap; maintain signs nothing",
    ("backup", "auth", "HP_REVOCATION_URL"): "shared ConfigMap; backups verify no tokens",
    ("backup-verify", "auth", "HP_REVOCATION_URL"): "shared ConfigMap; backups verify no tokens",
}


def set_path(values: dict[str, Any], dotted: str, value: str) -> None:
    node = values
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = {"true": True, "false": False}.get(value, value)


def render_values(profile: str, features: str) -> tuple[list[kube.Doc], dict[str, Any]]:
    sets = ALL_FEATURES if features == "all-features" else {}
    values = helm_chart.merged_values(CHART, values_files(profile))
    for key, value in sets.items():
        set_path(values, key, value)
    return render(profile, **sets), values


@functools.cache
def world(
    profile: str, features: str
) -> tuple[list[kube.Doc], dict[str, Any], network_policy.Cluster]:
    docs, values = render_values(profile, features)
    return docs, values, network_world.platform_world(docs, values, NS)


def party(cluster: network_policy.Cluster, name: str) -> list[network_policy.Endpoint]:
    found = cluster.of_party(name)
    return found


CASES = [(p, f) for p in PROFILES for f in FEATURES]


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_allowed_connections_are_exactly_the_flow_matrix(profile: str, features: str) -> None:
    _, values, cluster = world(profile, features)
    wanted, problems = reachability.matrix_connections(cluster, values, NS)
    assert not problems
    assert len(wanted) > 60
    missing, extra = reachability.compare(cluster, wanted, NS)
    assert not missing, "flows of the matrix that the policies deny:\n" + "\n".join(missing)
    assert not extra, "connections the policies allow outside the matrix:\n" + "\n".join(extra)


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_every_connection_a_workload_makes_is_allowed(profile: str, features: str) -> None:
    docs, values, cluster = world(profile, features)
    ctx = render_context.Context(docs, render_context.external_secrets(values))
    wanted, _ = reachability.matrix_connections(cluster, values, NS)
    problems, exempted = [], set()
    for why, conn in reachability.usage_connections(docs, ctx, cluster, values):
        if conn.source == conn.target:
            continue
        variable = why.rsplit(" ", 1)[-1]
        key = (conn.source.party, conn.target.party, variable)
        if key in UNUSED_SETTINGS:
            exempted.add(key)
            continue
        if not cluster.allowed(conn.source, conn.target, conn.port, conn.protocol):
            problems.append(f"denied: {conn} ({why})")
        elif conn not in wanted:
            problems.append(f"allowed but not in security.flows: {conn} ({why})")
    assert not problems, "\n".join(problems)
    if features == "all-features":  # the exemptions still describe the render
        assert exempted == set(UNUSED_SETTINGS)


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_health_and_auth_sides_never_reach_each_others_stores(profile: str, features: str) -> None:
    _, _, cluster = world(profile, features)
    health = [ep for name in HEALTH_SIDE for ep in party(cluster, name)]
    auth = [ep for name in AUTH_SIDE for ep in party(cluster, name)]
    auth_stores = [ep for name in AUTH_STORES for ep in party(cluster, name)]
    health_stores = [ep for name in HEALTH_STORES for ep in party(cluster, name)]
    assert len(health) >= 4 and len(auth) >= 3 and len(auth_stores) >= 2
    assert reachability.connections_between(cluster, health, auth_stores) == []
    assert reachability.connections_between(cluster, auth, health_stores) == []
    outside = [ep for ep in cluster.endpoints if ep.namespace is None]
    assert reachability.connections_between(cluster, auth, outside) == [], (
        "auth has no business outside"
    )


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_only_the_backup_jobs_reach_both_databases(profile: str, features: str) -> None:
    _, _, cluster = world(profile, features)
    health_db, auth_db = party(cluster, "health-db"), party(cluster, "auth-db")
    both = {
        ep.party
        for ep in cluster.endpoints
        if ep.namespace == NS
        and ep.party not in ("health-db", "auth-db")
        and reachability.connections_between(cluster, [ep], health_db)
        and reachability.connections_between(cluster, [ep], auth_db)
    }
    assert both == {"backup", "backup-verify"}


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_only_the_gateway_reaches_the_http_ports(profile: str, features: str) -> None:
    _, _, cluster = world(profile, features)
    for service, exceptions in HTTP_EXCEPTIONS.items():
        (target,) = party(cluster, service)
        port = target.port("http", "TCP")
        assert port is not None
        sources = {
            ep.party or ep.name
            for ep in cluster.endpoints
            if ep != target
            and ep.namespace is not None
            and cluster.allowed(ep, target, port.number)
        }
        assert sources == {"gateway", *exceptions}, service
        assert "Pod/envoy-someone-else" not in sources


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_nothing_reaches_the_metadata_service_and_strangers_reach_nothing(
    profile: str, features: str
) -> None:
    _, _, cluster = world(profile, features)
    metadata = [ep for ep in cluster.endpoints if str(ep.ip) == network_world.METADATA_PROBE]
    pods = [ep for ep in cluster.endpoints if ep.namespace == NS]
    assert reachability.connections_between(cluster, pods, metadata) == []
    platform = [ep for ep in cluster.endpoints if ep.namespace == NS and ep.party]
    strangers = [ep for ep in cluster.endpoints if ep.name in ("Pod/debug", "Pod/stranger")]
    assert reachability.connections_between(cluster, strangers, platform) == []
    assert reachability.connections_between(cluster, platform, strangers) == []
    vcn_and_services = ipaddress.ip_network("10.0.0.0/8")
    kube_api = [
        ep for ep in cluster.endpoints if ep.namespace is None and ep.ip in vcn_and_services
    ]
    assert kube_api
    reaching_api = {
        s.party for s in pods if reachability.connections_between(cluster, [s], kube_api)
    }
    assert reaching_api == {"health-db", "auth-db"}, "only the CloudNativePG instance manager"


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_every_pod_is_isolated_and_resolves_names(profile: str, features: str) -> None:
    _, _, cluster = world(profile, features)
    (dns,) = party(cluster, "kube-dns")
    pods = [ep for ep in cluster.endpoints if ep.namespace == NS]
    assert len(pods) >= 14
    for pod in pods:
        assert cluster.isolated(pod, "Ingress") and cluster.isolated(pod, "Egress"), pod.name
        assert cluster.allowed(pod, dns, 53, "UDP") and cluster.allowed(pod, dns, 53, "TCP")


def template_components() -> set[str]:
    text = (CHART / "templates" / "security" / "_security.tpl").read_text()
    block = text.split('define "hp.security.components" -}}', 1)[1].split("{{-", 1)[0]
    return set(block.split())


def test_the_component_list_matches_the_render() -> None:
    _, values, cluster = world("paid-small", "all-features")
    rendered = {ep.party for ep in cluster.endpoints if ep.namespace == NS and ep.party}
    assert template_components() == rendered - {"acme-solver"}
    # every party of every flow exists in some configuration
    for flow in values["security"]["flows"]:
        for name in (flow["from"], flow["to"]):
            if name == network_policy.ALL_PODS or name in values["security"]["peers"]:
                continue
            assert name in rendered, flow


def test_namespace_selectors_use_the_automatic_label() -> None:
    docs, _, _ = world("always-free", "all-features")
    for policy in kube.of_kind(docs, "NetworkPolicy"):
        for rule in [*policy["spec"].get("ingress", []), *policy["spec"].get("egress", [])]:
            for peer in [*rule.get("from", []), *rule.get("to", [])]:
                if "namespaceSelector" in peer:
                    keys = set(peer["namespaceSelector"]["matchLabels"])
                    assert keys == {"kubernetes.io/metadata.name"}, kube.ref(policy)


def render_with_flows(tmp_path: Path, flows: list[dict[str, Any]]) -> str:
    path = tmp_path / "flows.yaml"
    path.write_text(yaml.safe_dump({"security": {"flows": flows}}))
    return helm_chart.render_text(CHART, [path], helm=str(helm_chart.helm_binary()))


def test_the_chart_refuses_flows_naming_unknown_parties(tmp_path: Path) -> None:
    flow = {"from": "api", "to": "helth-db", "port": 5432, "purpose": "typo"}
    with pytest.raises(RuntimeError, match='"helth-db" is neither a component'):
        render_with_flows(tmp_path, [flow])
    flow = {"from": "api", "to": "*", "port": 80, "purpose": "everything"}
    with pytest.raises(RuntimeError, match="may only be a source"):
        render_with_flows(tmp_path, [flow])


def test_policies_can_be_switched_off() -> None:
    docs = render("always-free", **{"security.networkPolicies.enabled": "false"})
    assert not kube.of_kind(docs, "NetworkPolicy")
    whole = render("always-free")
    assert kube.find(whole, "NetworkPolicy", "healthplatform-default-deny") is not None


def doc_flow_rows() -> set[tuple[str, str, str]]:
    text = (REPO / "docs" / "security.md").read_text()
    section = text.split("## Flow matrix", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in section.splitlines():
        raw = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(raw) >= 4 and re.fullmatch(r"`[\w*-]+`", raw[0]):
            rows.add((raw[0].strip("`"), raw[1].strip("`"), raw[2]))
    return rows


def test_the_flow_matrix_is_documented() -> None:
    values = helm_chart.merged_values(CHART)
    rows = doc_flow_rows()
    wanted = {
        (str(f["from"]), str(f["to"]), f"{f['port']}/{f.get('protocol', 'TCP')}")
        for f in values["security"]["flows"]
    }
    assert wanted == rows, f"docs/security.md ## Flow matrix differs: {wanted ^ rows}"
