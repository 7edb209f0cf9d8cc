"""Who can reach whom: Kubernetes NetworkPolicy semantics over a modelled cluster.

The engine (:class:`Cluster`) follows the NetworkPolicy API:

* a pod is *isolated* for ingress (egress) iff some policy of its namespace selects it
  (``spec.podSelector``) and lists ``Ingress`` (``Egress``) in its policy types (default:
  ``Ingress``, plus ``Egress`` when the policy has an ``egress`` section);
* a connection is allowed iff the client's egress allows it (not isolated, or some policy
  selecting the client has an egress rule matching the server and port) **and** the
  server's ingress allows it (the same, seen from the server);
* a peer is a ``podSelector`` (pods of the policy's namespace), a ``namespaceSelector``
  (all pods of the matching namespaces), both (matching pods in matching namespaces), or
  an ``ipBlock`` (``cidr`` minus ``except``, compared with the address); a rule without
  peers matches everything, one without ports matches every port;
* ports are numbers (with ``endPort`` ranges) or container port *names*, resolved on the
  destination pod; the protocol defaults to TCP;
* namespaces carry the automatic label ``kubernetes.io/metadata.name`` and nothing else
  unless given: a selector on a label namespaces do not have selects nothing.

Addresses outside the cluster (:attr:`Endpoint.namespace` is None) are never isolated.

:func:`platform_world` builds the cluster the chart runs in from a render and its values:
the rendered pod templates, the pods operators create (CloudNativePG instances, the
cert-manager HTTP-01 solver, Envoy Gateway's proxies), the peers of ``security.peers``,
kube-dns, strangers, and probe addresses outside the cluster. :func:`matrix_connections`
turns ``security.flows`` into the connections that must be allowed, :func:`usage_connections`
derives from the render the connections the workloads actually make. The chart tests
compare all three (tests/deploy/test_security_network.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from healthplatform.ops import manifests as m

Doc = dict[str, Any]
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ALL_PODS = "*"

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
# Model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    name: str | None
    number: int
    protocol: str = "TCP"


def ports(*specs: tuple[str | None, int, str]) -> tuple[Port, ...]:
    return tuple(Port(name, number, protocol) for name, number, protocol in specs)


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace set) or an address outside the cluster (namespace None)."""

    name: str
    namespace: str | None
    labels: tuple[tuple[str, str], ...]
    ip: ipaddress.IPv4Address
    ports: tuple[Port, ...] = ()
    party: str | None = None  # the flow-matrix party this endpoint belongs to, if any

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    def port(self, spec: int | str, protocol: str) -> Port | None:
        """The container port a NetworkPolicy port means on this endpoint."""
        for port in self.ports:
            if port.protocol != protocol:
                continue
            if (isinstance(spec, str) and port.name == spec) or port.number == spec:
                return port
        if isinstance(spec, int) and self.namespace is None:
            return Port(None, spec, protocol)  # any port of an outside address
        return None


def endpoint(
    name: str,
    namespace: str | None,
    labels: Mapping[str, str],
    ip: str,
    port_specs: Iterable[tuple[str | None, int, str]] = (),
    party: str | None = None,
) -> Endpoint:
    return Endpoint(
        name,
        namespace,
        tuple(sorted(labels.items())),
        ipaddress.IPv4Address(ip),
        ports(*port_specs),
        party,
    )


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    pod_selector: Mapping[str, Any]
    types: frozenset[str]
    ingress: tuple[Doc, ...]
    egress: tuple[Doc, ...]

    @classmethod
    def parse(cls, doc: Doc, default_namespace: str) -> Policy:
        spec = doc.get("spec") or {}
        types = spec.get("policyTypes")
        if not types:
            types = ["Ingress", *(["Egress"] if "egress" in spec else [])]
        return cls(
            str(doc.get("metadata", {}).get("namespace") or default_namespace),
            m.name_of(doc),
            spec.get("podSelector") or {},
            frozenset(types),
            tuple(spec.get("ingress") or ()),
            tuple(spec.get("egress") or ()),
        )

    def selects(self, ep: Endpoint) -> bool:
        return ep.namespace == self.namespace and m.matches(self.pod_selector, ep.label_map)


@dataclass(frozen=True)
class Connection:
    source: Endpoint
    target: Endpoint
    port: int
    protocol: str = "TCP"

    def __str__(self) -> str:
        return f"{self.source.name} -> {self.target.name}:{self.port}/{self.protocol}"


@dataclass
class Cluster:
    """Namespaces (name -> extra labels), endpoints and NetworkPolicies."""

    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)

    def add(self, ep: Endpoint) -> Endpoint:
        if ep.namespace is not None:
            self.namespaces.setdefault(ep.namespace, {})
        self.endpoints.append(ep)
        return ep

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return {**self.namespaces.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}

    def isolated(self, ep: Endpoint, direction: str) -> bool:
        return any(p.selects(ep) and direction in p.types for p in self.policies)

    def _peer_matches(self, policy: Policy, peer: Mapping[str, Any], ep: Endpoint) -> bool:
        block = peer.get("ipBlock")
        if block is not None:
            if ep.ip not in ipaddress.ip_network(block["cidr"], strict=False):
                return False
            return not any(
                ep.ip in ipaddress.ip_network(e, strict=False) for e in block.get("except") or ()
            )
        ns_selector, pod_selector = peer.get("namespaceSelector"), peer.get("podSelector")
        if ns_selector is None and pod_selector is None:
            return False
        if ep.namespace is None:
            return False
        if ns_selector is None:
            if ep.namespace != policy.namespace:
                return False
        elif not m.matches(ns_selector, self.namespace_labels(ep.namespace)):
            return False
        return pod_selector is None or m.matches(pod_selector, ep.label_map)

    @staticmethod
    def _port_matches(rule: Mapping[str, Any], target: Endpoint, port: int, protocol: str) -> bool:
        specs = rule.get("ports")
        if not specs:
            return True
        for spec in specs:
            if spec.get("protocol", "TCP") != protocol:
                continue
            wanted = spec.get("port")
            if wanted is None:
                return True
            if isinstance(wanted, str) and not wanted.isdigit():
                named = target.port(wanted, protocol)
                if named is not None and named.name == wanted and named.number == port:
                    return True
                continue
            low = int(wanted)
            if low <= port <= int(spec.get("endPort", low)):
                return True
        return False

    def _direction_allows(
        self,
        subject: Endpoint,
        other: Endpoint,
        target: Endpoint,
        port: int,
        protocol: str,
        direction: str,
    ) -> bool:
        if subject.namespace is None or not self.isolated(subject, direction):
            return True
        peers_key = "from" if direction == "Ingress" else "to"
        for policy in self.policies:
            if direction not in policy.types or not policy.selects(subject):
                continue
            rules = policy.ingress if direction == "Ingress" else policy.egress
            for rule in rules:
                peers = rule.get(peers_key)
                if peers and not any(self._peer_matches(policy, p, other) for p in peers):
                    continue
                if self._port_matches(rule, target, port, protocol):
                    return True
        return False

    def allowed(self, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
        """Both ends allow a connection from ``source`` to ``target`` on ``port``."""
        return self._direction_allows(
            source, target, target, port, protocol, "Egress"
        ) and self._direction_allows(target, source, target, port, protocol, "Ingress")

    def reachable(self, scope: str | None = None) -> set[Connection]:
        """Every allowed connection to a declared port, between two different endpoints of
        which at least one is a pod of namespace ``scope`` (every pod when None)."""
        found: set[Connection] = set()
        for source in self.endpoints:
            if source.namespace is None:
                continue  # traffic from outside addresses is not modelled
            for target in self.endpoints:
                if target == source:
                    continue
                if scope is not None and scope not in (source.namespace, target.namespace):
                    continue
                for port in target.ports:
                    if self.allowed(source, target, port.number, port.protocol):
                        found.add(Connection(source, target, port.number, port.protocol))
        return found

    def of_party(self, party: str) -> list[Endpoint]:
        return [ep for ep in self.endpoints if ep.party == party]


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
    return (str(values.get("fullnameOverride") or "") or m.CHART_NAME)[:30].rstrip("-")


def cnpg_pods(docs: Iterable[Doc]) -> list[tuple[str, dict[str, str], int]]:
    """(cluster, pod labels, instances) of every CloudNativePG Cluster: the labels the operator
    puts on its pods (``cnpg.io/*``) plus ``spec.inheritedMetadata.labels``."""
    found = []
    for doc in m.of_kind(docs, "Cluster"):
        if not str(doc.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            continue
        spec = doc.get("spec") or {}
        inherited = dict((spec.get("inheritedMetadata") or {}).get("labels") or {})
        labels = {**inherited, "cnpg.io/cluster": m.name_of(doc), "cnpg.io/podRole": "instance"}
        found.append((m.name_of(doc), labels, int(spec.get("instances", 1))))
    return found


def acme_solver_in_namespace(docs: Iterable[Doc]) -> bool:
    """True when an (Cluster)Issuer solves HTTP-01 through a Gateway route: cert-manager then
    runs its solver pods next to the Certificate, in the release namespace."""
    for issuer in m.of_kind(docs, "ClusterIssuer", "Issuer"):
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
    docs: list[Doc], values: Mapping[str, Any], namespace: str = m.RENDER_NAMESPACE
) -> Cluster:
    """The cluster a render runs in (module docstring). Endpoints carry their flow-matrix
    party: chart components by ``app.kubernetes.io/name``, peers by their name."""
    cluster = Cluster()
    addresses = _Addresses(str((values.get("cluster") or {}).get("podsCidr") or "10.244.0.0/16"))
    instance = fullname(values)
    security = values.get("security") or {}
    peers: Mapping[str, Any] = security.get("peers") or {}
    cluster.namespaces[namespace] = {}
    for doc in m.of_kind(docs, "Namespace"):
        cluster.namespaces[m.name_of(doc)] = m.labels_of(doc)
    for pt in m.pod_templates(docs):
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
    for gw in m.of_kind(docs, "Gateway"):
        labels = {
            "app.kubernetes.io/name": "envoy",
            "app.kubernetes.io/component": "proxy",
            "app.kubernetes.io/managed-by": "envoy-gateway",
            "gateway.envoyproxy.io/owning-gateway-name": m.name_of(gw),
            "gateway.envoyproxy.io/owning-gateway-namespace": namespace,
        }
        cluster.add(
            endpoint(
                f"Pod/envoy-{m.name_of(gw)}",
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
    cluster.policies = [Policy.parse(d, namespace) for d in m.of_kind(docs, "NetworkPolicy")]
    return cluster


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
    cluster: Cluster, values: Mapping[str, Any], namespace: str = m.RENDER_NAMESPACE
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
    cluster: Cluster, ctx: m.Context, service: str, port: object
) -> list[tuple[Endpoint, int]]:
    """(pod, container port) behind ``service``:``port`` (a Service port number or name)."""
    svc = ctx.service(service)
    if svc is None:
        return []
    if m.synthetic(svc):  # a CloudNativePG Service: the cluster's instances, on 5432
        owner = m.annotations_of(svc)[m.CREATED_BY].split("/", 1)[-1]
        pods = [ep for ep in cluster.endpoints if ep.label_map.get("cnpg.io/cluster") == owner]
        return [(ep, 5432) for ep in pods]
    spec = svc.get("spec") or {}
    found = []
    for sp in spec.get("ports") or []:
        if sp.get("port") != port and sp.get("name") != port:
            continue
        target_port = sp.get("targetPort", sp.get("port"))
        for ep in cluster.endpoints:
            if ep.namespace == ctx.namespace and m.matches(spec.get("selector"), ep.label_map):
                resolved = ep.port(target_port, str(sp.get("protocol", "TCP")))
                if resolved is not None:
                    found.append((ep, resolved.number))
    return found


def _endpoint_of(cluster: Cluster, ref: str) -> Endpoint | None:
    return next((ep for ep in cluster.endpoints if ep.name == ref), None)


def usage_connections(
    docs: list[Doc], ctx: m.Context, cluster: Cluster, values: Mapping[str, Any]
) -> Iterator[tuple[str, Connection]]:
    """(why, connection) for every connection the render shows a workload makes: in-cluster
    URLs in container environments, gateway route and JWKS backends, ServiceMonitor and
    PodMonitor endpoints, the KEDA RabbitMQ trigger, DNS from every pod, the Kubernetes API from
    CloudNativePG's instance manager, the operator to its instances, HTTP-01 solving."""
    pods = [ep for ep in cluster.endpoints if ep.namespace == ctx.namespace and ep.party]
    for pt in m.pod_templates(docs):
        source = _endpoint_of(cluster, pt.ref)
        if source is None:
            continue
        for container in pt.containers():
            env, _ = m.container_env(container, ctx)
            for var in env.values():
                for match in m.URL.finditer(var.value):
                    parts = urlsplit(match.group(0))
                    located = m.service_of_host(parts.hostname or "", ctx.namespace)
                    if located is None:
                        continue
                    port = parts.port or m.DEFAULT_PORTS.get(match.group(1))
                    for target, number in _service_targets(cluster, ctx, located[0], port):
                        yield f"{pt.ref} {var.name}", Connection(source, target, number)
    gateways = cluster.of_party("gateway")
    backends: list[tuple[str, Doc]] = []
    for route in m.of_kind(docs, "HTTPRoute"):
        for rule in route.get("spec", {}).get("rules") or []:
            backends += [(m.ref(route), b) for b in rule.get("backendRefs") or []]
    for policy in m.of_kind(docs, "SecurityPolicy"):
        for provider in (policy.get("spec", {}).get("jwt") or {}).get("providers") or []:
            jwks = provider.get("remoteJWKS") or {}
            backends += [(m.ref(policy), b) for b in jwks.get("backendRefs") or []]
    for where, backend in backends:
        for gw in gateways:
            for target, number in _service_targets(
                cluster, ctx, backend["name"], backend.get("port")
            ):
                yield where, Connection(gw, target, number)
    for sm in m.of_kind(docs, "ServiceMonitor"):
        selector = sm.get("spec", {}).get("selector")
        for svc in m.of_kind(docs, "Service"):
            if not m.matches(selector, m.labels_of(svc)):
                continue
            for ep_spec in sm.get("spec", {}).get("endpoints") or []:
                for prom in cluster.of_party("prometheus"):
                    for target, number in _service_targets(
                        cluster, ctx, m.name_of(svc), ep_spec.get("port")
                    ):
                        yield m.ref(sm), Connection(prom, target, number)
    for pm in m.of_kind(docs, "PodMonitor"):
        spec = pm.get("spec") or {}
        names = (spec.get("namespaceSelector") or {}).get("matchNames") or [ctx.namespace]
        for target in cluster.endpoints:
            if target.namespace not in names or target.namespace != ctx.namespace:
                continue
            if not m.matches(spec.get("selector"), target.label_map):
                continue
            for ep_spec in spec.get("podMetricsEndpoints") or []:
                metrics = target.port(ep_spec.get("port"), "TCP")
                for prom in cluster.of_party("prometheus"):
                    if metrics is not None:
                        yield m.ref(pm), Connection(prom, target, metrics.number)
    for so in m.of_kind(docs, "ScaledObject"):
        for trigger in so.get("spec", {}).get("triggers") or []:
            host = (trigger.get("metadata") or {}).get("host", "")
            parts = urlsplit(str(host))
            located = m.service_of_host(parts.hostname or "", ctx.namespace)
            if trigger.get("type") == "rabbitmq" and located:
                port = parts.port or m.DEFAULT_PORTS.get(parts.scheme)
                for keda in cluster.of_party("keda-operator"):
                    for target, number in _service_targets(cluster, ctx, located[0], port):
                        yield m.ref(so), Connection(keda, target, number)
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
    cluster: Cluster, wanted: set[Connection], scope: str = m.RENDER_NAMESPACE
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
