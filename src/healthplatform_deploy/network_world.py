"""The cluster the chart runs in, modelled for :mod:`healthplatform_deploy.network_policy`.

:func:`platform_world` builds it from a render and its values: the rendered pod templates,
the pods operators create (CloudNativePG instances, the cert-manager HTTP-01 solver, Envoy
Gateway's proxies), the peers of ``security.peers``, kube-dns, strangers, and probe
addresses outside the cluster."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from healthplatform_deploy.kube import (
    CHART_NAME,
    RENDER_NAMESPACE,
    Doc,
    labels_of,
    name_of,
    of_kind,
    pod_templates,
)
from healthplatform_deploy.network_policy import Cluster, Policy, endpoint

# Facts about components the chart does not render (their own documentation).
CNPG_PORTS = (("postgresql", 5432, "TCP"), ("status", 8000, "TCP"), ("metrics", 9187, "TCP"))
ACME_SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
ACME_SOLVER_PORTS = (("http", 8089, "TCP"),)
ENVOY_PROXY_PORTS = (("http", 10080, "TCP"), ("https", 10443, "TCP"))
KUBE_DNS = ("kube-system", {"k8s-app": "kube-dns"})
KUBE_DNS_PORTS = (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP"))
PEER_PORTS: dict[str, tuple[tuple[str, int, str], ...]] = {
    "otlp-collector": (
        ("otlp-grpc", 4317, "TCP"),
        ("otlp-http", 4318, "TCP"),
        ("ui", 12345, "TCP"),
    ),
    "prometheus": (("web", 9090, "TCP"),),
    "cnpg-operator": (("metrics", 8080, "TCP"), ("webhook", 9443, "TCP")),
    "keda-operator": (("metrics", 8080, "TCP"), ("grpc", 9666, "TCP")),
}
CANARY_PORT = ("canary", 9999, "TCP")
# Addresses outside the cluster that are probed besides the declared ipBlocks.
INTERNET_PROBE = "203.0.113.10"
METADATA_PROBE = "169.254.169.254"


# --------------------------------------------------------------------------------------
# The platform's cluster, built from a render and its values
# --------------------------------------------------------------------------------------


class _Addresses:
    """Pod addresses from the pods CIDR, one after the other."""

    def __init__(self, cidr: str) -> None:
        self._hosts = ipaddress.ip_network(cidr, strict=False).hosts()

    def next(self) -> str:
        return str(next(self._hosts))


def _container_ports(spec: Doc) -> list[tuple[str | None, int, str]]:
    return [
        (p.get("name"), int(p["containerPort"]), str(p.get("protocol", "TCP")))
        for c in spec.get("containers") or []
        for p in c.get("ports") or []
    ]


def fullname(values: Mapping[str, Any]) -> str:
    """hp.fullname of the chart (never derived from the release name)."""
    return (str(values.get("fullnameOverride") or "") or CHART_NAME)[:30].rstrip("-")


def cnpg_pods(docs: Iterable[Doc]) -> list[tuple[str, dict[str, str], int]]:
    """(cluster, pod labels, instances) of every CloudNativePG Cluster: the labels the operator
    puts on its pods (``cnpg.io/*``) plus ``spec.inheritedMetadata.labels``."""
    found = []
    for doc in of_kind(docs, "Cluster"):
        if not str(doc.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            continue
        spec = doc.get("spec") or {}
        inherited = dict((spec.get("inheritedMetadata") or {}).get("labels") or {})
        labels = {**inherited, "cnpg.io/cluster": name_of(doc), "cnpg.io/podRole": "instance"}
        found.append((name_of(doc), labels, int(spec.get("instances", 1))))
    return found


def acme_solver_in_namespace(docs: Iterable[Doc]) -> bool:
    """True when an (Cluster)Issuer solves HTTP-01 through a Gateway route: cert-manager then
    runs its solver pods next to the Certificate, in the release namespace."""
    for issuer in of_kind(docs, "ClusterIssuer", "Issuer"):
        solvers = ((issuer.get("spec") or {}).get("acme") or {}).get("solvers") or []
        if any("gatewayHTTPRoute" in (s.get("http01") or {}) for s in solvers):
            return True
    return False


def unrendered_pod_labels(docs: Iterable[Doc]) -> list[dict[str, str]]:
    """Labels of pods that run in the release namespace without being rendered (created by
    CloudNativePG and cert-manager from rendered resources)."""
    docs = list(docs)
    found = [labels for _, labels, _ in cnpg_pods(docs)]
    if acme_solver_in_namespace(docs):
        found.append(dict(ACME_SOLVER_LABELS))
    return found


def _pod_party(labels: Mapping[str, str], instance: str) -> str | None:
    if labels.get("app.kubernetes.io/instance") == instance:
        return labels.get("app.kubernetes.io/name")
    return None


def _ip_probe(cidr: str) -> str:
    network = ipaddress.ip_network(cidr, strict=False)
    if network.num_addresses == 1:
        return str(network.network_address)
    if network.prefixlen == 0:
        return INTERNET_PROBE
    return str(network.network_address + 1)


def platform_world(
    docs: list[Doc], values: Mapping[str, Any], namespace: str = RENDER_NAMESPACE
) -> Cluster:
    """The cluster a render runs in (module docstring). Endpoints carry their flow-matrix
    party: chart components by ``app.kubernetes.io/name``, peers by their name."""
    cluster = Cluster()
    addresses = _Addresses(str((values.get("cluster") or {}).get("podsCidr") or "10.244.0.0/16"))
    instance = fullname(values)
    security = values.get("security") or {}
    peers: Mapping[str, Any] = security.get("peers") or {}
    cluster.namespaces[namespace] = {}
    for doc in of_kind(docs, "Namespace"):
        cluster.namespaces[name_of(doc)] = labels_of(doc)
    for pt in pod_templates(docs):
        cluster.add(
            endpoint(
                pt.ref,
                namespace,
                pt.labels,
                addresses.next(),
                _container_ports(pt.spec),
                _pod_party(pt.labels, instance),
            )
        )
    for name, labels, instances in cnpg_pods(docs):
        for i in range(1, instances + 1):
            pod_labels = {**labels, "cnpg.io/instanceName": f"{name}-{i}"}
            cluster.add(
                endpoint(
                    f"Pod/{name}-{i}",
                    namespace,
                    pod_labels,
                    addresses.next(),
                    CNPG_PORTS,
                    _pod_party(pod_labels, instance),
                )
            )
    if acme_solver_in_namespace(docs):
        cluster.add(
            endpoint(
                "Pod/cm-acme-http-solver",
                namespace,
                ACME_SOLVER_LABELS,
                addresses.next(),
                ACME_SOLVER_PORTS,
                "acme-solver",
            )
        )
    proxy_namespace = str((peers.get("gateway") or {}).get("namespace") or "envoy-gateway-system")
    for gw in of_kind(docs, "Gateway"):
        labels = {
            "app.kubernetes.io/name": "envoy",
            "app.kubernetes.io/component": "proxy",
            "app.kubernetes.io/managed-by": "envoy-gateway",
            "gateway.envoyproxy.io/owning-gateway-name": name_of(gw),
            "gateway.envoyproxy.io/owning-gateway-namespace": namespace,
        }
        cluster.add(
            endpoint(
                f"Pod/envoy-{name_of(gw)}",
                proxy_namespace,
                labels,
                addresses.next(),
                ENVOY_PROXY_PORTS,
                "gateway",
            )
        )
        other = {**labels, "gateway.envoyproxy.io/owning-gateway-name": "someone-else"}
        cluster.add(
            endpoint(
                "Pod/envoy-someone-else",
                proxy_namespace,
                other,
                addresses.next(),
                ENVOY_PROXY_PORTS,
            )
        )
    dns_namespace, dns_labels = KUBE_DNS
    cluster.add(
        endpoint(
            "Pod/coredns", dns_namespace, dns_labels, addresses.next(), KUBE_DNS_PORTS, "kube-dns"
        )
    )
    for name, peer in sorted(peers.items()):
        if peer.get("ipBlocks") or name in ("gateway", "acme-solver", "kube-dns"):
            continue
        if not peer.get("namespace"):
            continue
        cluster.add(
            endpoint(
                f"Pod/{name}",
                str(peer["namespace"]),
                peer.get("podLabels") or {},
                addresses.next(),
                PEER_PORTS.get(name, (CANARY_PORT,)),
                name,
            )
        )
    # Strangers: a debug pod in the release namespace, a pod in `default`.
    cluster.add(
        endpoint(
            "Pod/debug", namespace, {"run": "debug"}, addresses.next(), (("http", 8080, "TCP"),)
        )
    )
    cluster.add(
        endpoint(
            "Pod/stranger",
            "default",
            {"app": "stranger"},
            addresses.next(),
            (("http", 8080, "TCP"),),
        )
    )
    # Addresses outside the cluster: one probe per declared ipBlock, the internet, metadata.
    probes: dict[str, set[tuple[str | None, int, str]]] = {
        INTERNET_PROBE: {(None, 80, "TCP"), (None, 443, "TCP"), (None, 22, "TCP")},
        METADATA_PROBE: {(None, 80, "TCP")},
    }
    services_cidr = str((values.get("cluster") or {}).get("servicesCidr") or "10.96.0.0/16")
    api_vip = str(ipaddress.ip_network(services_cidr, strict=False).network_address + 1)
    probes.setdefault(api_vip, set()).add((None, 443, "TCP"))
    for flow in security.get("flows") or []:
        peer = peers.get(str(flow["to"])) or {}
        for block in peer.get("ipBlocks") or []:
            if isinstance(flow["port"], int):
                probe = probes.setdefault(_ip_probe(str(block["cidr"])), set())
                probe.add((None, int(flow["port"]), str(flow.get("protocol", "TCP"))))
                probe.add((None, 22, "TCP"))
    for ip, specs in sorted(probes.items()):
        cluster.add(endpoint(f"Address/{ip}", None, {}, ip, sorted(specs, key=str)))
    cluster.policies = [Policy.parse(d, namespace) for d in of_kind(docs, "NetworkPolicy")]
    return cluster
