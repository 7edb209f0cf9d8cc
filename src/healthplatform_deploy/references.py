"""Cross-references inside a render: selectors select something, every Secret/ConfigMap
key and volume source exists (rendered, created by an operator or listed in ``secrets.*``),
Service ports resolve to container ports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from healthplatform_deploy.context import Context
from healthplatform_deploy.kube import (
    KNOWN_NAMESPACE_LABELS,
    Doc,
    PodTemplate,
    labels_of,
    matches,
    of_kind,
    pod_templates,
    ref,
    selector_is_empty,
)
from healthplatform_deploy.network_world import unrendered_pod_labels

# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------


def pods_selected(ctx: Context, selector: Mapping[str, Any] | None) -> list[PodTemplate]:
    return [pt for pt in pod_templates(ctx.docs) if matches(selector, pt.labels)]


def _selects_unrendered(ctx: Context, selector: Mapping[str, Any] | None) -> bool:
    """A selector matches pods operators create from rendered resources (CloudNativePG
    instances, cert-manager's HTTP-01 solver): NetworkPolicies may select those."""
    return any(matches(selector, labels) for labels in unrendered_pod_labels(ctx.docs))


def check_selectors(docs: list[Doc], ctx: Context | None = None) -> list[str]:
    """Service, PDB, workload, ServiceMonitor and NetworkPolicy selectors select something;
    a Service selects exactly one workload."""
    ctx = ctx or Context(docs)
    problems: list[str] = []
    for pt in pod_templates(docs):
        selector = pt.owner.get("spec", {}).get("selector")
        controller = pt.owner["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
        if controller and not matches(selector, pt.labels):
            problems.append(f"{pt.ref}: spec.selector does not match its pod template labels")
    for svc in of_kind(docs, "Service"):
        selector = svc.get("spec", {}).get("selector")
        if svc.get("spec", {}).get("type") == "ExternalName":
            continue
        if not selector:
            problems.append(f"{ref(svc)}: no selector")
            continue
        owners = {pt.ref for pt in pods_selected(ctx, selector)}
        if not owners:
            problems.append(f"{ref(svc)}: selector {selector} matches no pod template")
        elif len(owners) > 1:
            problems.append(
                f"{ref(svc)}: selector {selector} matches several workloads {sorted(owners)}"
            )
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        if not pods_selected(ctx, pdb.get("spec", {}).get("selector")):
            problems.append(f"{ref(pdb)}: selector matches no pod template")
    for sm in of_kind(docs, "ServiceMonitor"):
        selector = sm.get("spec", {}).get("selector")
        if not [s for s in of_kind(docs, "Service") if matches(selector, labels_of(s))]:
            problems.append(f"{ref(sm)}: selector matches no Service")
    for np in of_kind(docs, "NetworkPolicy"):
        spec = np.get("spec", {})
        pod_selector = spec.get("podSelector")
        if (
            not selector_is_empty(pod_selector)
            and not pods_selected(ctx, pod_selector)
            and not _selects_unrendered(ctx, pod_selector)
        ):
            problems.append(f"{ref(np)}: podSelector matches no pod template")
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                for peer in rule.get(peers_key) or []:
                    problems += _check_peer(ctx, np, peer)
    return problems


def _check_peer(ctx: Context, np: Doc, peer: Doc) -> list[str]:
    problems: list[str] = []
    ns_selector = peer.get("namespaceSelector")
    if ns_selector is not None:
        for key in (ns_selector.get("matchLabels") or {}) | {
            e["key"]: "" for e in ns_selector.get("matchExpressions") or []
        }:
            if key not in KNOWN_NAMESPACE_LABELS:
                problems.append(
                    f"{ref(np)}: namespaceSelector label {key!r} is not on namespaces "
                    f"(use kubernetes.io/metadata.name)"
                )
    pod_selector = peer.get("podSelector")
    if (
        ns_selector is None
        and not selector_is_empty(pod_selector)
        and not pods_selected(ctx, pod_selector)
        and not _selects_unrendered(ctx, pod_selector)
    ):
        problems.append(f"{ref(np)}: peer podSelector {pod_selector} matches no pod template")
    return problems


def config_refs(spec: Doc) -> Iterator[tuple[str, str, str | None, bool]]:
    """(kind, name, key or None, optional) of every Secret/ConfigMap a pod spec reads."""
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for item in container.get("env") or []:
            source = item.get("valueFrom") or {}
            for field_name, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                if field_name in source:
                    r = source[field_name]
                    yield kind, r["name"], r["key"], bool(r.get("optional"))
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                yield (
                    "Secret",
                    source["secretRef"]["name"],
                    None,
                    bool(source["secretRef"].get("optional")),
                )
            if "configMapRef" in source:
                yield (
                    "ConfigMap",
                    source["configMapRef"]["name"],
                    None,
                    bool(source["configMapRef"].get("optional")),
                )
    volume_sources: list[Doc] = []
    for volume in spec.get("volumes") or []:
        volume_sources.append(volume)
        volume_sources += (volume.get("projected") or {}).get("sources") or []
    for source in volume_sources:
        if "secret" in source:
            s = source["secret"]
            name = s.get("secretName") or s.get("name")
            keys = [i["key"] for i in s.get("items") or []] or [None]
            for key in keys:
                yield "Secret", name, key, bool(s.get("optional"))
        if "configMap" in source:
            c = source["configMap"]
            keys = [i["key"] for i in c.get("items") or []] or [None]
            for key in keys:
                yield "ConfigMap", c["name"], key, bool(c.get("optional"))
    for pull in spec.get("imagePullSecrets") or []:
        yield "Secret", pull["name"], None, False


def _resolve_config(ctx: Context, where: str, kind: str, name: str, key: str | None) -> list[str]:
    keys = ctx.secret_keys(name) if kind == "Secret" else ctx.configmap_keys(name)
    if keys is None:
        return [
            f"{where}: {kind} {name!r} is neither rendered, made by an operator, "
            "nor declared in values secrets.*"
        ]
    if key is not None and key not in keys:
        return [f"{where}: {kind} {name!r} has no key {key!r} (it has {sorted(keys)})"]
    return []


def check_references(docs: list[Doc], ctx: Context) -> list[str]:
    """Every Secret/ConfigMap (and key) referenced exists: rendered, operator-made or declared."""
    problems: list[str] = []
    for pt in pod_templates(docs):
        for kind, name, key, optional in config_refs(pt.spec):
            if not optional:
                problems += _resolve_config(ctx, pt.ref, kind, name, key)
    for ta in of_kind(docs, "TriggerAuthentication"):
        for target in ta.get("spec", {}).get("secretTargetRef") or []:
            problems += _resolve_config(ctx, ref(ta), "Secret", target["name"], target["key"])
    for gw in of_kind(docs, "Gateway"):
        for listener in gw.get("spec", {}).get("listeners") or []:
            for cert in (listener.get("tls") or {}).get("certificateRefs") or []:
                problems += _resolve_config(ctx, ref(gw), "Secret", cert["name"], "tls.crt")
    return problems


def _container_ports(container: Doc) -> tuple[set[str], set[int]]:
    ports = container.get("ports") or []
    return {p["name"] for p in ports if "name" in p}, {int(p["containerPort"]) for p in ports}


def _port_ok(port: object, names: set[str], numbers: set[int]) -> bool:
    return port in names if isinstance(port, str) else int(str(port)) in numbers


def _service_port(ctx: Context, where: str, name: str, port: object) -> list[str]:
    svc = ctx.service(name)
    if svc is None:
        return [f"{where}: Service {name!r} does not exist"]
    ports = svc.get("spec", {}).get("ports") or []
    if not any(p.get("port") == port or p.get("name") == port for p in ports):
        return [f"{where}: Service {name!r} has no port {port!r}"]
    return []


def check_ports(docs: list[Doc], ctx: Context) -> list[str]:
    """Service targetPorts, probe ports, route/JWKS backends and ServiceMonitor ports exist."""
    problems: list[str] = []
    for svc in of_kind(docs, "Service"):
        pods = pods_selected(ctx, svc.get("spec", {}).get("selector"))
        for port in svc.get("spec", {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for pt in pods:
                names, numbers = set(), set()
                for container in pt.containers(init=False):
                    n, m = _container_ports(container)
                    names |= n
                    numbers |= m
                if not _port_ok(target, names, numbers):
                    problems.append(f"{ref(svc)}: targetPort {target!r} is not a port of {pt.ref}")
    for pt in pod_templates(docs):
        for container in pt.containers():
            names, numbers = _container_ports(container)
            for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(probe_name) or {}
                for handler in ("httpGet", "tcpSocket", "grpc"):
                    if handler in probe and not _port_ok(probe[handler]["port"], names, numbers):
                        problems.append(
                            f"{pt.ref}: {container['name']} {probe_name} port "
                            f"{probe[handler]['port']!r} is not a container port"
                        )
    for route in of_kind(docs, "HTTPRoute", "GRPCRoute"):
        for rule in route.get("spec", {}).get("rules") or []:
            for backend in rule.get("backendRefs") or []:
                if backend.get("kind", "Service") == "Service":
                    problems += _service_port(ctx, ref(route), backend["name"], backend.get("port"))
    for policy in of_kind(docs, "SecurityPolicy"):
        for provider in (policy.get("spec", {}).get("jwt") or {}).get("providers") or []:
            for backend in (provider.get("remoteJWKS") or {}).get("backendRefs") or []:
                problems += _service_port(ctx, ref(policy), backend["name"], backend.get("port"))
    for sm in of_kind(docs, "ServiceMonitor"):
        selector = sm.get("spec", {}).get("selector")
        for svc in [s for s in of_kind(docs, "Service") if matches(selector, labels_of(s))]:
            names = {p.get("name") for p in svc.get("spec", {}).get("ports") or []}
            for endpoint in sm.get("spec", {}).get("endpoints") or []:
                if "port" in endpoint and endpoint["port"] not in names:
                    problems.append(
                        f"{ref(sm)}: port {endpoint['port']!r} is not a port of {ref(svc)}"
                    )
    return problems
