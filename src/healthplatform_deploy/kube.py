"""Reading rendered Kubernetes documents: constants, references, labels, pod templates and
label selectors, shared by every check of this package."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Doc = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
CHARTS_DIR = REPO_ROOT / "deploy" / "charts"
PROFILES_DIR = REPO_ROOT / "deploy" / "profiles"
CHART_NAME = "healthplatform"
KUBE_VERSION = "1.34.1"
RENDER_NAMESPACE = "hp-render-check"

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
CLUSTER_SCOPED_KINDS = frozenset(
    {"ClusterIssuer", "GatewayClass", "ClusterRole", "ClusterRoleBinding", "Namespace"}
)
CNPG_APP_KEYS = frozenset(
    {"username", "password", "host", "port", "dbname", "uri", "jdbc-uri", "pgpass"}
    | {"fqdn-uri", "fqdn-jdbc-uri"}
)
TLS_KEYS = frozenset({"tls.crt", "tls.key", "ca.crt"})
CREATED_BY = "healthplatform.io/created-by"
SELECTOR_LABEL_KEYS = frozenset({"app.kubernetes.io/name", "app.kubernetes.io/instance"})
REQUIRED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
# Pod Security "restricted": volume types allowed, capabilities that may be added.
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral"}
    | {"persistentVolumeClaim", "projected", "secret"}
)
DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "amqp": 5672,
    "amqps": 5671,
    "redis": 6379,
    "rediss": 6380,
    "postgresql": 5432,
    "postgresql+asyncpg": 5432,
    "postgres": 5432,
}
# Labels every namespace carries: the only keys a NetworkPolicy namespaceSelector may use.
KNOWN_NAMESPACE_LABELS = frozenset({"kubernetes.io/metadata.name"})
VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://[^\s\"'<>]+")


# --------------------------------------------------------------------------------------
# Reading the documents
# --------------------------------------------------------------------------------------


def ref(doc: Doc) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def name_of(doc: Doc) -> str:
    return str(doc.get("metadata", {}).get("name", ""))


def labels_of(doc: Doc) -> dict[str, str]:
    return dict(doc.get("metadata", {}).get("labels") or {})


def annotations_of(doc: Doc) -> dict[str, str]:
    return dict(doc.get("metadata", {}).get("annotations") or {})


def of_kind(docs: Iterable[Doc], *kinds: str) -> list[Doc]:
    return [doc for doc in docs if doc.get("kind") in kinds]


def find(docs: Iterable[Doc], kind: str, name: str) -> Doc | None:
    for doc in docs:
        if doc.get("kind") == kind and name_of(doc) == name:
            return doc
    return None


def synthetic(doc: Doc) -> bool:
    """True for objects derived by :func:`operator_objects` (not rendered by Helm)."""
    return CREATED_BY in annotations_of(doc)


@dataclass(frozen=True)
class PodTemplate:
    """The pod template of one workload, with what the checks need to know about it."""

    owner: Doc
    spec: Doc
    labels: dict[str, str]

    @property
    def ref(self) -> str:
        return ref(self.owner)

    @property
    def is_hook(self) -> bool:
        return "helm.sh/hook" in annotations_of(self.owner)

    def containers(self, *, init: bool = True) -> list[Doc]:
        found = list(self.spec.get("containers") or [])
        if init:
            found = list(self.spec.get("initContainers") or []) + found
        return found


def pod_templates(docs: Iterable[Doc]) -> list[PodTemplate]:
    found: list[PodTemplate] = []
    for doc in docs:
        kind = doc.get("kind")
        if kind not in WORKLOAD_KINDS:
            continue
        if kind == "Pod":
            template: Doc = {"metadata": doc.get("metadata", {}), "spec": doc.get("spec", {})}
        elif kind == "CronJob":
            template = doc["spec"]["jobTemplate"]["spec"]["template"]
        else:
            template = doc.get("spec", {}).get("template", {})
        found.append(
            PodTemplate(
                doc,
                template.get("spec", {}),
                dict(template.get("metadata", {}).get("labels") or {}),
            )
        )
    return found


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Label selector semantics (matchLabels + matchExpressions, or a plain map)."""
    if selector is None:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels.get(k) == v for k, v in selector.items())
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_is_empty(selector: Mapping[str, Any] | None) -> bool:
    if not selector:
        return True
    if "matchLabels" in selector or "matchExpressions" in selector:
        return not selector.get("matchLabels") and not selector.get("matchExpressions")
    return False
