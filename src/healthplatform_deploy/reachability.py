"""What must be reachable: :func:`matrix_connections` turns ``security.flows`` into the
connections that must be allowed, :func:`usage_connections` derives from the render the
connections the workloads actually make; the chart tests compare both with what the
NetworkPolicies allow (tests/deploy/test_security_network.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from healthplatform_deploy.context import Context, container_env
from healthplatform_deploy.endpoints import service_of_host
from healthplatform_deploy.kube import (
    CREATED_BY,
    DEFAULT_PORTS,
    RENDER_NAMESPACE,
    URL,
    Doc,
    annotations_of,
    labels_of,
    matches,
    name_of,
    of_kind,
    pod_templates,
    ref,
    synthetic,
)
from healthplatform_deploy.network_policy import ALL_PODS, Cluster, Connection, Endpoint

# --------------------------------------------------------------------------------------
# What must be reachable: the flow matrix, and what the workloads use
# --------------------------------------------------------------------------------------


def _party_endpoints(
    cluster: Cluster, values: Mapping[str, Any], party: str, namespace: str
) -> list[Endpoint]:
    peers: Mapping[str, Any] = (values.get("security") or {}).get("peers") or {}
    if party == ALL_PODS:
        return [ep for ep in cluster.endpoints if ep.namespace == namespace]
    peer = peers.get(party) or {}
    if peer.get("ipBlocks"):
        blocks = [
            (ipaddress.ip_network(b["cidr"], strict=False), b.get("except") or [])
            for b in peer["ipBlocks"]
        ]
        return [
            ep
            for ep in cluster.endpoints
            if ep.namespace is None
            and any(
                ep.ip in net and not any(ep.ip in ipaddress.ip_network(e) for e in excepts)
                for net, excepts in blocks
            )
        ]
    return cluster.of_party(party)


def absent_parties(values: Mapping[str, Any]) -> set[str]:
    """Parties that do not exist with these values (hp.security.absent in the chart): the
    in-cluster S3 server without objectStore.provider=seaweedfs, the external object store
    with it, the backup jobs without backups.jobs.enabled. Flows naming them are not
    rendered."""
    if (values.get("objectStore") or {}).get("provider") == "seaweedfs":
        absent = {"object-storage"}
    else:
        absent = {"s3", "s3-create-bucket"}
    jobs = (values.get("backups") or {}).get("jobs") or {}
    if not jobs.get("enabled", True):
        absent |= {"backup", "backup-verify"}
    return absent


def matrix_connections(
    cluster: Cluster, values: Mapping[str, Any], namespace: str = RENDER_NAMESPACE
) -> tuple[set[Connection], list[str]]:
    """The connections ``security.flows`` asks for in this cluster, and the problems found
    resolving them (a named port the target does not have). Flows naming a party that does
    not exist here (the S3 server without seaweedfs, ...) resolve to nothing."""
    wanted: set[Connection] = set()
    problems: list[str] = []
    absent = absent_parties(values)
    for flow in (values.get("security") or {}).get("flows") or []:
        if {str(flow["from"]), str(flow["to"])} & absent:
            continue
        sources = _party_endpoints(cluster, values, str(flow["from"]), namespace)
        targets = _party_endpoints(cluster, values, str(flow["to"]), namespace)
        protocol = str(flow.get("protocol", "TCP"))
        for source in sources:
            for target in targets:
                if source == target:
                    continue
                port = target.port(flow["port"], protocol)
                if port is None:
                    problems.append(
                        f"flow {flow['from']} -> {flow['to']}:{flow['port']}: "
                        f"{target.name} has no port {flow['port']!r}/{protocol}"
                    )
                    continue
                wanted.add(Connection(source, target, port.number, protocol))
    return wanted, problems


def _service_targets(
    cluster: Cluster, ctx: Context, service: str, port: object
) -> list[tuple[Endpoint, int]]:
    """(pod, container port) behind ``service``:``port`` (a Service port number or name)."""
    svc = ctx.service(service)
    if svc is None:
        return []
    if synthetic(svc):  # a CloudNativePG Service: the cluster's instances, on 5432
        owner = annotations_of(svc)[CREATED_BY].split("/", 1)[-1]
        pods = [ep for ep in cluster.endpoints if ep.label_map.get("cnpg.io/cluster") == owner]
        return [(ep, 5432) for ep in pods]
    spec = svc.get("spec") or {}
    found = []
    for sp in spec.get("ports") or []:
        if sp.get("port") != port and sp.get("name") != port:
            continue
        target_port = sp.get("targetPort", sp.get("port"))
        for ep in cluster.endpoints:
            if ep.namespace == ctx.namespace and matches(spec.get("selector"), ep.label_map):
                resolved = ep.port(target_port, str(sp.get("protocol", "TCP")))
                if resolved is not None:
                    found.append((ep, resolved.number))
    return found


def _endpoint_of(cluster: Cluster, ref: str) -> Endpoint | None:
    return next((ep for ep in cluster.endpoints if ep.name == ref), None)


def usage_connections(
    docs: list[Doc], ctx: Context, cluster: Cluster, values: Mapping[str, Any]
) -> Iterator[tuple[str, Connection]]:
    """(why, connection) for every connection the render shows a workload makes: in-cluster
    URLs in container environments, gateway route and JWKS backends, ServiceMonitor and
    PodMonitor endpoints, the KEDA RabbitMQ trigger, DNS from every pod, the Kubernetes API from
    CloudNativePG's instance manager, the operator to its instances, HTTP-01 solving."""
    pods = [ep for ep in cluster.endpoints if ep.namespace == ctx.namespace and ep.party]
    for pt in pod_templates(docs):
        source = _endpoint_of(cluster, pt.ref)
        if source is None:
            continue
        for container in pt.containers():
            env, _ = container_env(container, ctx)
            for var in env.values():
                for match in URL.finditer(var.value):
                    parts = urlsplit(match.group(0))
                    located = service_of_host(parts.hostname or "", ctx.namespace)
                    if located is None:
                        continue
                    port = parts.port or DEFAULT_PORTS.get(match.group(1))
                    for target, number in _service_targets(cluster, ctx, located[0], port):
                        yield f"{pt.ref} {var.name}", Connection(source, target, number)
    gateways = cluster.of_party("gateway")
    backends: list[tuple[str, Doc]] = []
    for route in of_kind(docs, "HTTPRoute"):
        for rule in route.get("spec", {}).get("rules") or []:
            backends += [(ref(route), b) for b in rule.get("backendRefs") or []]
    for policy in of_kind(docs, "SecurityPolicy"):
        for provider in (policy.get("spec", {}).get("jwt") or {}).get("providers") or []:
            jwks = provider.get("remoteJWKS") or {}
            backends += [(ref(policy), b) for b in jwks.get("backendRefs") or []]
    for where, backend in backends:
        for gw in gateways:
            for target, number in _service_targets(
                cluster, ctx, backend["name"], backend.get("port")
            ):
                yield where, Connection(gw, target, number)
    for sm in of_kind(docs, "ServiceMonitor"):
        selector = sm.get("spec", {}).get("selector")
        for svc in of_kind(docs, "Service"):
            if not matches(selector, labels_of(svc)):
                continue
            for ep_spec in sm.get("spec", {}).get("endpoints") or []:
                for prom in cluster.of_party("prometheus"):
                    for target, number in _service_targets(
                        cluster, ctx, name_of(svc), ep_spec.get("port")
                    ):
                        yield ref(sm), Connection(prom, target, number)
    for pm in of_kind(docs, "PodMonitor"):
        spec = pm.get("spec") or {}
        names = (spec.get("namespaceSelector") or {}).get("matchNames") or [ctx.namespace]
        for target in cluster.endpoints:
            if target.namespace not in names or target.namespace != ctx.namespace:
                continue
            if not matches(spec.get("selector"), target.label_map):
                continue
            for ep_spec in spec.get("podMetricsEndpoints") or []:
                metrics = target.port(ep_spec.get("port"), "TCP")
                for prom in cluster.of_party("prometheus"):
                    if metrics is not None:
                        yield ref(pm), Connection(prom, target, metrics.number)
    for so in of_kind(docs, "ScaledObject"):
        for trigger in so.get("spec", {}).get("triggers") or []:
            host = (trigger.get("metadata") or {}).get("host", "")
            parts = urlsplit(str(host))
            located = service_of_host(parts.hostname or "", ctx.namespace)
            if trigger.get("type") == "rabbitmq" and located:
                port = parts.port or DEFAULT_PORTS.get(parts.scheme)
                for keda in cluster.of_party("keda-operator"):
                    for target, number in _service_targets(cluster, ctx, located[0], port):
                        yield ref(so), Connection(keda, target, number)
    for dns in cluster.of_party("kube-dns"):
        for pod in pods:
            yield "DNS", Connection(pod, dns, 53, "UDP")
            yield "DNS", Connection(pod, dns, 53, "TCP")
    services_cidr = str((values.get("cluster") or {}).get("servicesCidr") or "10.96.0.0/16")
    api_vip = ipaddress.ip_network(services_cidr, strict=False).network_address + 1
    api = next((ep for ep in cluster.endpoints if ep.ip == api_vip and ep.namespace is None), None)
    for pod in pods:
        if "cnpg.io/cluster" not in pod.label_map:
            continue
        if api is not None:
            yield "CloudNativePG instance manager", Connection(pod, api, 443)
        for operator in cluster.of_party("cnpg-operator"):
            yield "CloudNativePG operator", Connection(operator, pod, 8000)
            yield "CloudNativePG operator", Connection(operator, pod, 5432)
    for solver in cluster.of_party("acme-solver"):
        for gw in gateways:
            yield "HTTP-01 challenge", Connection(gw, solver, 8089)


def compare(
    cluster: Cluster, wanted: set[Connection], scope: str = RENDER_NAMESPACE
) -> tuple[list[str], list[str]]:
    """(required but denied, allowed but not in ``wanted``) within ``scope``."""
    allowed = cluster.reachable(scope)
    missing = sorted(
        str(c) for c in wanted if not cluster.allowed(c.source, c.target, c.port, c.protocol)
    )
    extra = sorted(str(c) for c in allowed - wanted)
    return missing, extra


def sources_of(cluster: Cluster, target: Endpoint, port: int, protocol: str = "TCP") -> list[str]:
    """Names of every endpoint that reaches ``target`` on ``port``."""
    return sorted(
        ep.name
        for ep in cluster.endpoints
        if ep != target and ep.namespace is not None and cluster.allowed(ep, target, port, protocol)
    )


def connections_between(
    cluster: Cluster, sources: Sequence[Endpoint], targets: Sequence[Endpoint]
) -> list[str]:
    """Every allowed connection from ``sources`` to any declared port of ``targets``."""
    return sorted(
        str(Connection(s, t, p.number, p.protocol))
        for s in sources
        for t in targets
        if s != t
        for p in t.ports
        if cluster.allowed(s, t, p.number, p.protocol)
    )
