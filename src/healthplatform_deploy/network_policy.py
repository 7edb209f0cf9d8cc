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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from healthplatform_deploy.kube import Doc, matches, name_of

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ALL_PODS = "*"


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
            name_of(doc),
            spec.get("podSelector") or {},
            frozenset(types),
            tuple(spec.get("ingress") or ()),
            tuple(spec.get("egress") or ()),
        )

    def selects(self, ep: Endpoint) -> bool:
        return ep.namespace == self.namespace and matches(self.pod_selector, ep.label_map)


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
        elif not matches(ns_selector, self.namespace_labels(ep.namespace)):
            return False
        return pod_selector is None or matches(pod_selector, ep.label_map)

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
