"""In-cluster URLs and host names in container environments point at Services that exist,
and ``$(VAR)`` references are defined before use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from healthplatform_deploy.context import Context, container_env
from healthplatform_deploy.kube import DEFAULT_PORTS, URL, Doc, of_kind, pod_templates, ref


def service_of_host(host: str, namespace: str) -> tuple[str, str] | None:
    """(service, namespace) for an in-cluster host name, None for an external one."""
    parts = host.split(".")
    if len(parts) == 1:
        return host, namespace
    if host.endswith(".svc") and len(parts) == 3:
        return parts[0], parts[1]
    if host.endswith(".svc.cluster.local") and len(parts) == 5:
        return parts[0], parts[1]
    return None


def urls_in(text: str) -> Iterator[tuple[str, str]]:
    for match in URL.finditer(text):
        yield match.group(1), match.group(0)


@dataclass(frozen=True)
class Endpoint:
    """An in-cluster URL found in the render, resolved to a Service."""

    where: str
    url: str
    service: str
    namespace: str
    port: int | None
    path: str


def in_cluster_urls(docs: list[Doc], ctx: Context) -> tuple[list[Endpoint], list[str]]:
    """Every URL in container env (expanded), ConfigMaps, KEDA triggers and JWT providers
    that points into the cluster."""
    texts: list[tuple[str, str]] = []
    for pt in pod_templates(docs):
        for container in pt.containers():
            env, _ = container_env(container, ctx)
            texts += [(f"{pt.ref} {container['name']} {v.name}", v.value) for v in env.values()]
    for cm in of_kind(docs, "ConfigMap"):
        texts += [(f"{ref(cm)} {k}", str(v)) for k, v in (cm.get("data") or {}).items()]
    for so in of_kind(docs, "ScaledObject"):
        for trigger in so.get("spec", {}).get("triggers") or []:
            texts += [
                (f"{ref(so)} {trigger['type']}.{k}", str(v))
                for k, v in (trigger.get("metadata") or {}).items()
            ]
    for policy in of_kind(docs, "SecurityPolicy"):
        for provider in (policy.get("spec", {}).get("jwt") or {}).get("providers") or []:
            uri = (provider.get("remoteJWKS") or {}).get("uri")
            if uri:
                texts.append((f"{ref(policy)} remoteJWKS", str(uri)))
    endpoints: list[Endpoint] = []
    problems: list[str] = []
    for where, text in texts:
        for scheme, url in urls_in(text):
            try:
                parts = urlsplit(url)
                port = parts.port
            except ValueError as exc:
                problems.append(f"{where}: unparseable URL {url!r}: {exc}")
                continue
            located = service_of_host(parts.hostname or "", ctx.namespace)
            if located is None:
                continue
            endpoints.append(
                Endpoint(
                    where,
                    url,
                    located[0],
                    located[1],
                    port or DEFAULT_PORTS.get(scheme),
                    parts.path,
                )
            )
    return endpoints, problems


# In-cluster services of other releases the apps address (installed by GitOps), as
# (namespace, service, port); the security flow matrix allows the same egress.
EXTERNAL_SERVICES = frozenset({("monitoring", "alloy", 4318)})


def check_hostnames(docs: list[Doc], ctx: Context) -> list[str]:
    """Every in-cluster host in a URL is a Service of the release namespace, at a Service
    port, or one of the few ``EXTERNAL_SERVICES``."""
    endpoints, problems = in_cluster_urls(docs, ctx)
    for ep in endpoints:
        if (ep.namespace, ep.service, ep.port) in EXTERNAL_SERVICES:
            continue
        if ep.namespace != ctx.namespace:
            problems.append(
                f"{ep.where}: {_redact(ep.url)} points at namespace {ep.namespace!r}, "
                f"not the release's {ctx.namespace!r}"
            )
            continue
        svc = ctx.service(ep.service)
        if svc is None:
            problems.append(
                f"{ep.where}: host of {_redact(ep.url)} is not a Service ({ep.service!r})"
            )
            continue
        ports = [p.get("port") for p in svc.get("spec", {}).get("ports") or []]
        if ep.port not in ports:
            problems.append(
                f"{ep.where}: {_redact(ep.url)} uses port {ep.port}, "
                f"Service {ep.service} has {ports}"
            )
    return problems


def _redact(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)


def check_env_order(docs: list[Doc], ctx: Context) -> list[str]:
    """No ``$(VAR)`` in env, command or args before VAR is defined in the same container."""
    problems: list[str] = []
    for pt in pod_templates(docs):
        for container in pt.containers():
            _, found = container_env(container, ctx)
            problems += [f"{pt.ref}: {p}" for p in found]
    return problems
