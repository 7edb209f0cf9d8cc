"""Checks of the whole rendered GitOps path (:mod:`healthplatform_deploy.render`).

Each check takes rendered documents and returns problems (empty = fine):

* :func:`check_references`: every Secret/ConfigMap a pod reads (env ``secretKeyRef`` /
  ``configMapKeyRef``, ``envFrom``, ``secret``/``configMap``/projected volumes), in our
  objects and the upstream charts', is created by something in the GitOps path: a rendered
  object, a SealedSecret, a cert-manager Certificate, a CloudNativePG Cluster, or a program
  listed in :data:`RUNTIME_SECRETS` whose workload is rendered. ``optional`` references
  are skipped.
* :func:`check_requests`: every container and init container requests CPU and memory.
Metrics: :mod:`healthplatform_deploy.scrape`; value keys: :mod:`healthplatform_deploy.value_keys`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from healthplatform_deploy.render import SourceRender, deep_merge
from healthplatform_deploy.value_keys import chart_values

Doc = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


def ref(doc: Doc) -> str:
    meta = doc.get("metadata", {})
    return f"{doc.get('kind')}/{meta.get('namespace', '')}/{meta.get('name')}"


def namespace_of(doc: Doc) -> str:
    return str(doc.get("metadata", {}).get("namespace", ""))


def pod_spec(doc: Doc) -> Doc | None:
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind not in WORKLOADS:
        return None
    if kind == "Pod":
        return dict(spec)
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template", {}).get("spec")
    return dict(template) if isinstance(template, dict) else None


def workloads(docs: Iterable[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            yield doc, spec


def containers(spec: Doc) -> list[Doc]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


# --- references ---------------------------------------------------------------------------------

# Secrets a program of the GitOps path creates at run time (not rendered): (namespace, name)
# -> the workload (kind/name) that must be rendered for it to exist, and why.
RUNTIME_SECRETS: dict[tuple[str, str], tuple[str, str]] = {
    ("envoy-gateway-system", "envoy-gateway"): ("Job/eg-gateway-helm-certgen", "certgen"),
    ("envoy-gateway-system", "envoy"): ("Job/eg-gateway-helm-certgen", "certgen"),
    ("envoy-gateway-system", "envoy-rate-limit"): ("Job/eg-gateway-helm-certgen", "certgen"),
    ("envoy-gateway-system", "envoy-oidc-hmac"): ("Job/eg-gateway-helm-certgen", "certgen"),
    ("keda", "kedaorg-certs"): ("Deployment/keda-operator", "KEDA's own cert rotation"),
    ("monitoring", "kps-admission"): (
        "Job/kps-admission-create",
        "kube-prometheus-stack's admission-webhook patch Job",
    ),
    ("cnpg-system", "cnpg-webhook-cert"): ("Deployment/cnpg-cloudnative-pg", "the operator"),
    ("cnpg-system", "cnpg-ca-secret"): ("Deployment/cnpg-cloudnative-pg", "the operator"),
    ("argocd", "argocd-redis"): ("Deployment/argocd-redis", "its secret-init container"),
    ("velero", "velero-repo-credentials"): ("Deployment/velero", "the Velero server"),
}
# Secrets a CloudNativePG Cluster <name> gets from the operator.
CNPG_SUFFIXES = ("-app", "-ca", "-server", "-replication", "-superuser")


@dataclass(frozen=True)
class Reference:
    where: str
    kind: str  # "Secret" or "ConfigMap"
    namespace: str
    name: str


def _volume_refs(volume: Doc) -> Iterator[tuple[str, str, bool]]:
    if "secret" in volume:
        yield (
            "Secret",
            str(volume["secret"].get("secretName")),
            bool(volume["secret"].get("optional")),
        )
    if "configMap" in volume:
        cm = volume["configMap"]
        yield "ConfigMap", str(cm.get("name")), bool(cm.get("optional"))
    for source in (volume.get("projected") or {}).get("sources") or []:
        for key, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
            if key in source:
                yield kind, str(source[key].get("name")), bool(source[key].get("optional"))


def _container_refs(container: Doc) -> Iterator[tuple[str, str, bool]]:
    for env in container.get("env") or []:
        source = env.get("valueFrom") or {}
        for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            if key in source:
                yield kind, str(source[key].get("name")), bool(source[key].get("optional"))
    for env in container.get("envFrom") or []:
        for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            if key in env:
                yield kind, str(env[key].get("name")), bool(env[key].get("optional"))


def references(docs: Iterable[Doc]) -> list[Reference]:
    found: list[Reference] = []
    for doc, spec in workloads(docs):
        refs = [r for v in spec.get("volumes") or [] for r in _volume_refs(v)]
        refs += [r for c in containers(spec) for r in _container_refs(c)]
        found += [
            Reference(ref(doc), kind, namespace_of(doc), name)
            for kind, name, optional in refs
            if not optional
        ]
    return found


def provided(docs: Iterable[Doc]) -> dict[tuple[str, str, str], str]:
    """(kind, namespace, name) of every Secret/ConfigMap the GitOps path creates -> by what."""
    docs = list(docs)
    out: dict[tuple[str, str, str], str] = {}
    rendered = {f"{d.get('kind')}/{d.get('metadata', {}).get('name')}" for d in docs}
    for doc in docs:
        kind, ns, name = doc.get("kind"), namespace_of(doc), str(doc["metadata"].get("name"))
        spec = doc.get("spec") or {}
        if kind in ("Secret", "ConfigMap"):
            out[(str(kind), ns, name)] = "rendered"
        elif kind == "SealedSecret":
            target = (spec.get("template") or {}).get("metadata") or {}
            out[("Secret", ns, str(target.get("name") or name))] = f"SealedSecret/{name}"
        elif kind == "Certificate" and spec.get("secretName"):
            out[("Secret", ns, str(spec["secretName"]))] = f"Certificate/{name}"
        elif kind == "Cluster" and str(doc.get("apiVersion", "")).startswith("postgresql.cnpg.io"):
            for suffix in CNPG_SUFFIXES:
                out[("Secret", ns, name + suffix)] = f"Cluster/{name}"
    for (ns, name), (workload, why) in RUNTIME_SECRETS.items():
        if workload in rendered:
            out[("Secret", ns, name)] = f"{workload} ({why})"
    out[("ConfigMap", "", "kube-root-ca.crt")] = "every namespace"
    return out


SEALED_TEMPLATE = "*.sealedsecret.tmpl"


def bootstrap_secrets(renders: Iterable[SourceRender]) -> dict[tuple[str, str, str], str]:
    """Secrets the bootstrap seals into the GitOps path (docs/gitops.md, "Seal the secrets"):

    * a SealedSecret template ``<name>.sealedsecret.tmpl`` in the folder of a directory
      source: the bootstrap writes the sealed ``<name>.yaml`` next to it;
    * the platform chart's declared user-provided Secrets (``secrets.<x>.name``) when the
      environment enables ``security.sealedSecrets``: sealed into its sealed-secrets.yaml.
    """
    out: dict[tuple[str, str, str], str] = {}
    for r in renders:
        if r.kind == "directory" and r.folder is not None:
            for path in sorted(r.folder.glob(SEALED_TEMPLATE)):
                for doc in yaml.safe_load_all(path.read_text()):
                    if isinstance(doc, dict) and doc.get("kind") == "SealedSecret":
                        name = str(doc["metadata"]["name"])
                        out[("Secret", r.namespace, name)] = f"sealed at bootstrap ({path.name})"
        if r.kind == "chart" and r.chart is not None and r.values is not None:
            values = deep_merge(chart_values(r.chart).defaults, r.values.user_values())
            if ((values.get("security") or {}).get("sealedSecrets") or {}).get("enabled"):
                for entry in (values.get("secrets") or {}).values():
                    if isinstance(entry, dict) and entry.get("name"):
                        out[("Secret", r.namespace, str(entry["name"]))] = (
                            "sealed at bootstrap (security.sealedSecrets)"
                        )
    return out


def check_references(docs: list[Doc], bootstrap: Mapping[tuple[str, str, str], str]) -> list[str]:
    have = {**provided(docs), **bootstrap}
    problems = []
    for r in references(docs):
        if (r.kind, r.namespace, r.name) in have or (r.kind, "", r.name) in have:
            continue
        problems.append(
            f"{r.where} reads {r.kind} {r.namespace}/{r.name}, which nothing in the GitOps "
            "path creates"
        )
    return sorted(set(problems))


# --- requests -----------------------------------------------------------------------------------


def check_requests(docs: list[Doc]) -> list[str]:
    problems = []
    for doc, spec in workloads(docs):
        for container in containers(spec):
            requests = (container.get("resources") or {}).get("requests") or {}
            missing = [k for k in ("cpu", "memory") if k not in requests]
            if missing:
                problems.append(
                    f"{ref(doc)}/{container.get('name')}: no {'/'.join(missing)} request"
                )
    return problems
