"""Render the platform's Helm chart and check the rendered manifests offline.

Used by the chart tests (tests/deploy/test_charts*.py) and by the capacity check
(:mod:`healthplatform.ops.capacity`). Nothing here talks to a cluster: the chart is rendered
with ``helm template`` and every rule below reads the parsed documents.

Each ``check_*`` function takes the rendered documents (plus, for some, a :class:`Context`)
and returns a list of human-readable problems; an empty list means the rule holds. The
rules are the failures a previous attempt at this platform shipped (selectors that selected
nothing, secrets and ports that did not exist, ``$(VAR)`` used before its definition,
settings the app did not know, pods Pod Security "restricted" rejects, ...).

Objects that exist in the cluster without being rendered come from two documented places:

* Secrets the operator creates before installing (kubectl or SealedSecrets): the chart's
  values ``secrets.*`` (name and keys), read by :func:`external_secrets`.
* Objects an operator creates from a rendered resource, derived by
  :func:`operator_objects`: for a CloudNativePG ``Cluster`` X the Services ``X-rw``,
  ``X-ro``, ``X-r`` (port 5432) and the Secrets ``X-app`` (keys in :data:`CNPG_APP_KEYS`),
  ``X-ca``, ``X-server``, ``X-replication``; for a cert-manager ``Certificate`` the Secret
  named by ``spec.secretName`` (``tls.crt``, ``tls.key``, ``ca.crt``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

Doc = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[3]
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


class ToolMissingError(RuntimeError):
    """A binary the checks need (helm) is not installed."""


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def helm_binary(major: int = 4) -> str:
    """Path of Helm ``major``: $HP_HELM<major>, then scripts/ensure-k8s-tools.sh's cache,
    then ``helm`` on PATH (whatever major it is)."""
    explicit = os.environ.get(f"HP_HELM{major}")
    if explicit:
        return explicit
    cached = REPO_ROOT / ".cache" / "k8s-tools" / f"helm{major}" / "helm"
    if cached.is_file():
        return str(cached)
    found = shutil.which("helm")
    if found:
        return found
    raise ToolMissingError(
        f"Helm {major} not found: run scripts/ensure-k8s-tools.sh or set HP_HELM{major}"
    )


def render_text(
    chart: Path,
    values: Sequence[Path] = (),
    *,
    sets: Mapping[str, str] | None = None,
    helm: str | None = None,
    release: str = "hp",
    namespace: str = RENDER_NAMESPACE,
) -> str:
    """``helm template`` of a chart; raises RuntimeError with Helm's message on failure."""
    command = [
        helm or helm_binary(),
        "template",
        release,
        str(chart),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
    ]
    for path in values:
        command += ["--values", str(path)]
    for key, value in (sets or {}).items():
        command += ["--set", f"{key}={value}"]
    result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        command, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm template failed: {' '.join(command)}\n{result.stderr}")
    return result.stdout


def parse_documents(text: str) -> list[Doc]:
    """The non-empty YAML documents of a multi-document stream."""
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and doc]


def render(chart: Path, values: Sequence[Path] = (), **kwargs: Any) -> list[Doc]:
    return parse_documents(render_text(chart, values, **kwargs))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge recursively, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def merged_values(chart: Path, values: Sequence[Path] = ()) -> dict[str, Any]:
    """The chart's values.yaml with the given values files applied in order."""
    merged: dict[str, Any] = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    for path in values:
        merged = deep_merge(merged, yaml.safe_load(path.read_text()) or {})
    return merged


def profile_path(profile: str, profiles_dir: Path = PROFILES_DIR) -> Path:
    path = profiles_dir / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in profiles_dir.glob("*.yaml"))
        raise FileNotFoundError(f"no profile {profile!r} in {profiles_dir} (known: {known})")
    return path


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


# --------------------------------------------------------------------------------------
# Objects that exist without being rendered
# --------------------------------------------------------------------------------------


def _made(kind: str, name: str, by: str, **body: Any) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "annotations": {CREATED_BY: by}},
        **body,
    }


def operator_objects(docs: Iterable[Doc]) -> list[Doc]:
    """Services and Secrets operators create from rendered resources (module docstring)."""
    made: list[Doc] = []
    for doc in docs:
        kind, name = doc.get("kind"), name_of(doc)
        if kind == "Cluster" and str(doc.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            by = f"CloudNativePG Cluster/{name}"
            for suffix in ("rw", "ro", "r"):
                made.append(
                    _made(
                        "Service",
                        f"{name}-{suffix}",
                        by,
                        spec={"ports": [{"name": "postgres", "port": 5432}]},
                    )
                )
            initdb = doc.get("spec", {}).get("bootstrap", {}).get("initdb", {})
            if "secret" not in initdb:
                made.append(
                    _made("Secret", f"{name}-app", by, stringData=dict.fromkeys(CNPG_APP_KEYS, ""))
                )
            for suffix in ("ca", "server", "replication"):
                made.append(
                    _made("Secret", f"{name}-{suffix}", by, stringData=dict.fromkeys(TLS_KEYS, ""))
                )
        elif kind == "Certificate" and str(doc.get("apiVersion", "")).startswith(
            "cert-manager.io/"
        ):
            secret = doc.get("spec", {}).get("secretName")
            if secret:
                made.append(
                    _made(
                        "Secret",
                        secret,
                        f"cert-manager Certificate/{name}",
                        stringData=dict.fromkeys(TLS_KEYS, ""),
                    )
                )
    return made


def external_secrets(values: Mapping[str, Any]) -> dict[str, set[str]]:
    """User-provided Secrets declared in the chart values: ``secrets.<x>.name`` and every
    ``secrets.<x>.*Key`` (the key names), plus ``imagePullSecrets`` (no keys checked)."""
    found: dict[str, set[str]] = {}
    for entry in (values.get("secrets") or {}).values():
        keys = {str(v) for k, v in entry.items() if k.endswith("Key")}
        found.setdefault(str(entry["name"]), set()).update(keys)
    for name in values.get("imagePullSecrets") or []:
        found.setdefault(str(name), set()).add(".dockerconfigjson")
    return found


@dataclass
class Context:
    """Everything a cross-reference check may resolve names against."""

    docs: list[Doc]
    external: dict[str, set[str]] = field(default_factory=dict)
    namespace: str = RENDER_NAMESPACE

    def __post_init__(self) -> None:
        self.made = operator_objects(self.docs)
        self.all = [*self.docs, *self.made]

    def secret_keys(self, name: str) -> set[str] | None:
        """Keys of a Secret that will exist (rendered, operator-made or declared); None if none."""
        doc = find(self.all, "Secret", name)
        if doc is not None:
            return set((doc.get("data") or {}) | (doc.get("stringData") or {}))
        return self.external.get(name)

    def configmap_keys(self, name: str) -> set[str] | None:
        doc = find(self.docs, "ConfigMap", name)
        if doc is None:
            return None
        return set((doc.get("data") or {}) | (doc.get("binaryData") or {}))

    def service(self, name: str) -> Doc | None:
        return find(self.all, "Service", name)


# --------------------------------------------------------------------------------------
# Environment of a container (env, envFrom, $(VAR) expansion)
# --------------------------------------------------------------------------------------


def secret_placeholder(secret: str, key: str) -> str:
    """Stand-in value of a secret: base64url of 32 bytes, so it is URL-safe and a valid
    32-byte key (AuthSettings checks the key encryption key's length)."""
    digest = hashlib.sha256(f"{secret}/{key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class EnvVar:
    name: str
    value: str
    secret: tuple[str, str] | None = None  # (secret name, key) it was read from
    literal: bool = True
    used: bool = False  # referenced as $(NAME) by a later variable, the command or args


def expand(value: str, defined: Mapping[str, EnvVar]) -> tuple[str, list[str]]:
    """Kubernetes ``$(VAR)`` expansion; returns the value and the names that were not defined."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name in defined:
            defined[name].used = True
            return defined[name].value
        missing.append(name)
        return match.group(0)

    return VAR_REF.sub(substitute, value), missing


def container_env(container: Doc, ctx: Context) -> tuple[dict[str, EnvVar], list[str]]:
    """The environment a container receives, secrets replaced by placeholders, with the
    problems found while building it ($(VAR) before definition)."""
    env: dict[str, EnvVar] = {}
    problems: list[str] = []
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            cm = find(ctx.docs, "ConfigMap", source["configMapRef"]["name"])
            for key, value in ((cm or {}).get("data") or {}).items():
                env[prefix + key] = EnvVar(prefix + key, str(value))
        if "secretRef" in source:
            secret = source["secretRef"]["name"]
            for key in sorted(ctx.secret_keys(secret) or ()):
                env[prefix + key] = EnvVar(
                    prefix + key, secret_placeholder(secret, key), (secret, key), False
                )
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            value, missing = expand(str(item["value"]), env)
            for ref_name in missing:
                problems.append(
                    f"{container['name']}: {name} uses $({ref_name}) before {ref_name} is defined"
                )
            env[name] = EnvVar(name, value)
        elif "valueFrom" in item:
            source = item["valueFrom"]
            if "secretKeyRef" in source:
                s = source["secretKeyRef"]
                env[name] = EnvVar(
                    name, secret_placeholder(s["name"], s["key"]), (s["name"], s["key"]), False
                )
            elif "configMapKeyRef" in source:
                c = source["configMapKeyRef"]
                cm = find(ctx.docs, "ConfigMap", c["name"]) or {}
                env[name] = EnvVar(name, str((cm.get("data") or {}).get(c["key"], "")))
            else:  # fieldRef / resourceFieldRef: runtime values
                env[name] = EnvVar(name, f"<{name}>", None, False)
        else:
            env[name] = EnvVar(name, "")
    for part in ("command", "args"):
        for arg in container.get(part) or []:
            _, missing = expand(str(arg), env)
            for ref_name in missing:
                problems.append(
                    f"{container['name']}: {part} uses $({ref_name}), which is not defined"
                )
    return env, problems


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------


def _pods_selected(ctx: Context, selector: Mapping[str, Any] | None) -> list[PodTemplate]:
    return [pt for pt in pod_templates(ctx.docs) if matches(selector, pt.labels)]


def _selects_unrendered(ctx: Context, selector: Mapping[str, Any] | None) -> bool:
    """A selector matches pods operators create from rendered resources (CloudNativePG
    instances, cert-manager's HTTP-01 solver): NetworkPolicies may select those."""
    from healthplatform.ops.reachability import unrendered_pod_labels  # imports this module

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
        owners = {pt.ref for pt in _pods_selected(ctx, selector)}
        if not owners:
            problems.append(f"{ref(svc)}: selector {selector} matches no pod template")
        elif len(owners) > 1:
            problems.append(
                f"{ref(svc)}: selector {selector} matches several workloads {sorted(owners)}"
            )
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        if not _pods_selected(ctx, pdb.get("spec", {}).get("selector")):
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
            and not _pods_selected(ctx, pod_selector)
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
        and not _pods_selected(ctx, pod_selector)
        and not _selects_unrendered(ctx, pod_selector)
    ):
        problems.append(f"{ref(np)}: peer podSelector {pod_selector} matches no pod template")
    return problems


def _config_refs(spec: Doc) -> Iterator[tuple[str, str, str | None, bool]]:
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
        for kind, name, key, optional in _config_refs(pt.spec):
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
        pods = _pods_selected(ctx, svc.get("spec", {}).get("selector"))
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


def _urls_in(text: str) -> Iterator[tuple[str, str]]:
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
        for scheme, url in _urls_in(text):
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


# --- settings of the app containers ------------------------------------------------------

APP_ROLES: dict[tuple[str, ...], str] = {
    ("serve", "api"): "api",
    ("serve", "etl"): "etl",
    ("serve", "relay"): "relay",
    ("serve", "auth"): "auth",
    ("migrate", "--database", "health"): "migrate-health",
    ("migrate", "--database", "auth"): "migrate-auth",
    ("auth", "maintain"): "auth-maintain",
    ("backup", "create"): "backup",
    ("backup", "verify"): "backup-verify",
}
AUTH_ROLES = frozenset({"auth", "migrate-auth", "auth-maintain"})
PLATFORM_ROLES = frozenset({"api", "etl", "relay"})
# Backup jobs read three settings classes: Settings (health database, data lake), the auth
# database URL of AuthSettings and BackupSettings (HP_BACKUP_*, the backup store).
BACKUP_ROLES = frozenset({"backup", "backup-verify"})


def app_role(container: Doc) -> str | None:
    """The platform command a container runs (by its args; the image's ENTRYPOINT is
    ``healthplatform``), or None for other images."""
    if container.get("command"):
        return None
    args = tuple(str(a) for a in container.get("args") or [])
    for prefix, role in APP_ROLES.items():
        if args[: len(prefix)] == prefix:
            return role
    return None


@dataclass
class AppContainer:
    where: str
    role: str
    env: dict[str, EnvVar]


def app_containers(docs: list[Doc], ctx: Context) -> tuple[list[AppContainer], list[str]]:
    found: list[AppContainer] = []
    problems: list[str] = []
    for pt in pod_templates(docs):
        for container in pt.containers():
            env, _ = container_env(container, ctx)
            role = app_role(container)
            where = f"{pt.ref} {container['name']}"
            if role is None:
                if any(name.startswith("HP_") for name in env):
                    problems.append(f"{where}: receives HP_* settings but runs no platform command")
                continue
            found.append(AppContainer(where, role, env))
    return found, problems


def _settings_classes() -> tuple[type[Any], type[Any] | None]:
    from healthplatform.settings import Settings

    try:
        from healthplatform.auth.settings import AuthSettings
    except ImportError:  # the auth service is not part of this checkout yet
        return Settings, None
    return Settings, AuthSettings


def _backup_settings_class() -> type[Any]:
    from healthplatform.ops.backups.settings import BackupSettings

    return BackupSettings


@dataclass(frozen=True)
class BackupJobSettings:
    """The three settings objects a backup job loads (what BACKUP_REQUIREMENTS check)."""

    settings: Any
    auth: Any
    backup: Any


Requirement = tuple[str, Callable[[Any, dict[str, EnvVar]], bool], str]


def _from_secret(var: str) -> Callable[[Any, dict[str, EnvVar]], bool]:
    return lambda _s, env: var in env and env[var].secret is not None


def _url_with_secret(var: str) -> Callable[[Any, dict[str, EnvVar]], bool]:
    def check(_s: Any, env: dict[str, EnvVar]) -> bool:
        if var not in env:
            return False
        return any(
            v.secret is not None and v.value in env[var].value
            for v in env.values()
            if v.name != var
        )

    return check


PLATFORM_REQUIREMENTS: list[Requirement] = [
    (
        "HP_DATABASE_URL",
        lambda s, _e: str(s.database_url).startswith("postgresql+asyncpg://"),
        "a postgresql+asyncpg:// URL",
    ),
    (
        "HP_DATABASE_URL",
        _url_with_secret("HP_DATABASE_URL"),
        "a URL with credentials from a Secret",
    ),
    ("HP_OBJECT_STORE", lambda s, _e: str(s.object_store) == "s3", "s3"),
    (
        "HP_S3_ENDPOINT_URL",
        lambda s, _e: str(s.s3_endpoint_url).startswith(("https://", "http://")),
        "an http(s) URL",
    ),
    ("HP_S3_REGION", lambda _s, e: bool(e.get("HP_S3_REGION") and e["HP_S3_REGION"].value), "set"),
    ("HP_S3_BUCKET", lambda _s, e: bool(e.get("HP_S3_BUCKET") and e["HP_S3_BUCKET"].value), "set"),
    ("HP_S3_ACCESS_KEY_ID", _from_secret("HP_S3_ACCESS_KEY_ID"), "read from a Secret"),
    ("HP_S3_SECRET_ACCESS_KEY", _from_secret("HP_S3_SECRET_ACCESS_KEY"), "read from a Secret"),
    ("HP_EVENTS_BACKEND", lambda s, _e: str(s.events_backend) == "rabbitmq", "rabbitmq"),
    (
        "HP_RABBITMQ_URL",
        _url_with_secret("HP_RABBITMQ_URL"),
        "an AMQP URL with credentials from a Secret",
    ),
    ("HP_REDIS_URL", _url_with_secret("HP_REDIS_URL"), "a Redis URL with a password from a Secret"),
    ("HP_JWT_JWKS_URL", lambda s, _e: bool(s.jwt_jwks_url), "the auth service's JWKS URL"),
    ("HP_JWT_ISSUER", lambda _s, e: "HP_JWT_ISSUER" in e, "set explicitly"),
    ("HP_JWT_AUDIENCE", lambda _s, e: "HP_JWT_AUDIENCE" in e, "set explicitly"),
    ("HP_PUBLIC_URL", lambda s, _e: str(s.public_url).startswith("https://"), "an https:// URL"),
    ("HP_ENVIRONMENT", lambda s, _e: s.environment != "local", "not `local`"),
]
AUTH_REQUIREMENTS: list[Requirement] = [
    (
        "HP_AUTH_DATABASE_URL",
        lambda s, _e: str(s.database_url).startswith("postgresql+asyncpg://"),
        "a postgresql+asyncpg:// URL",
    ),
    (
        "HP_AUTH_DATABASE_URL",
        _url_with_secret("HP_AUTH_DATABASE_URL"),
        "a URL with credentials from a Secret",
    ),
    (
        "HP_AUTH_KEY_ENCRYPTION_KEY",
        _from_secret("HP_AUTH_KEY_ENCRYPTION_KEY"),
        "read from a Secret",
    ),
    ("HP_AUTH_ENVIRONMENT", lambda s, _e: s.environment != "local", "not `local`"),
    ("HP_AUTH_ISSUER", lambda _s, e: "HP_AUTH_ISSUER" in e, "set explicitly"),
    ("HP_AUTH_AUDIENCE", lambda _s, e: "HP_AUTH_AUDIENCE" in e, "set explicitly"),
]
SERVING_AUTH_REQUIREMENTS: list[Requirement] = [
    (
        "HP_AUTH_REDIS_URL",
        _url_with_secret("HP_AUTH_REDIS_URL"),
        "a Redis URL with a password from a Secret",
    ),
    ("HP_AUTH_RP_ID", lambda s, _e: s.rp_id != "localhost", "the public host"),
]


def _env_value(env: Mapping[str, EnvVar], name: str) -> str:
    return env[name].value if name in env else ""


def _separate_backup_bucket(_s: Any, env: dict[str, EnvVar]) -> bool:
    bucket = _env_value(env, "HP_BACKUP_BUCKET")
    return bool(bucket) and bucket != _env_value(env, "HP_S3_BUCKET")


BACKUP_STORE_REQUIREMENT: Requirement = (
    "HP_BACKUP_BUCKET",
    _separate_backup_bucket,
    "a bucket other than the data lake's HP_S3_BUCKET",
)
BACKUP_REQUIREMENTS: list[Requirement] = [
    (
        "HP_DATABASE_URL",
        lambda s, _e: str(s.settings.database_url).startswith("postgresql+asyncpg://"),
        "a postgresql+asyncpg:// URL",
    ),
    PLATFORM_REQUIREMENTS[1],
    (
        "HP_AUTH_DATABASE_URL",
        lambda s, _e: str(s.auth.database_url).startswith("postgresql+asyncpg://"),
        "a postgresql+asyncpg:// URL",
    ),
    AUTH_REQUIREMENTS[1],
    ("HP_OBJECT_STORE", lambda s, _e: str(s.settings.object_store) == "s3", "s3"),
    (
        "HP_S3_ENDPOINT_URL",
        lambda s, _e: str(s.settings.s3_endpoint_url).startswith(("https://", "http://")),
        "an http(s) URL",
    ),
    ("HP_S3_REGION", lambda _s, e: bool(_env_value(e, "HP_S3_REGION")), "set"),
    ("HP_S3_ACCESS_KEY_ID", _from_secret("HP_S3_ACCESS_KEY_ID"), "read from a Secret"),
    ("HP_S3_SECRET_ACCESS_KEY", _from_secret("HP_S3_SECRET_ACCESS_KEY"), "read from a Secret"),
    BACKUP_STORE_REQUIREMENT,
    (
        "HP_AUTH_KEY_ENCRYPTION_KEY",
        lambda _s, e: "HP_AUTH_KEY_ENCRYPTION_KEY" not in e,
        "absent (backups never need the key encryption key)",
    ),
    (
        "HP_AUTH_ENVIRONMENT",
        lambda _s, e: "HP_AUTH_ENVIRONMENT" not in e,
        "absent (the auth ConfigMap is not for backups: it demands the key encryption key)",
    ),
    ("HP_ENVIRONMENT", lambda s, _e: s.settings.environment != "local", "not `local`"),
]
ROLE_REQUIREMENTS: dict[str, list[Requirement]] = {
    "api": PLATFORM_REQUIREMENTS,
    "etl": PLATFORM_REQUIREMENTS,
    "relay": [*PLATFORM_REQUIREMENTS, BACKUP_STORE_REQUIREMENT],
    "backup": BACKUP_REQUIREMENTS,
    "backup-verify": BACKUP_REQUIREMENTS,
    "migrate-health": PLATFORM_REQUIREMENTS[:2],
    "auth": AUTH_REQUIREMENTS + SERVING_AUTH_REQUIREMENTS,
    "migrate-auth": AUTH_REQUIREMENTS,
    "auth-maintain": AUTH_REQUIREMENTS,
}


def _load(
    cls: type[Any], prefix: str, env: Mapping[str, EnvVar], exclude: tuple[str, ...] = ()
) -> tuple[Any, str | None]:
    values = {
        name[len(prefix) :].lower(): var.value
        for name, var in env.items()
        if name.startswith(prefix) and not name.startswith(exclude or ("\0",))
    }
    try:
        return cls.model_validate(values), None
    except Exception as exc:  # pydantic's ValidationError lists every bad field
        return None, " ".join(str(exc).split())


def check_settings(docs: list[Doc], ctx: Context) -> list[str]:
    """Every HP_* variable of an app container (backup CronJobs included) is a Settings,
    AuthSettings or BackupSettings (HP_BACKUP_*) field, the env loads into those classes,
    production requirements hold, helper variables are used."""
    settings_cls, auth_cls = _settings_classes()
    backup_cls = _backup_settings_class()
    containers, problems = app_containers(docs, ctx)
    for app in containers:
        env = app.env
        for name in env:
            if name.startswith("HP_AUTH_"):
                if auth_cls is not None and name[8:].lower() not in auth_cls.model_fields:
                    problems.append(f"{app.where}: {name} is not a field of AuthSettings")
            elif name.startswith("HP_BACKUP_"):
                if name[10:].lower() not in backup_cls.model_fields:
                    problems.append(f"{app.where}: {name} is not a field of BackupSettings")
            elif name.startswith("HP_"):
                if name[3:].lower() not in settings_cls.model_fields:
                    problems.append(f"{app.where}: {name} is not a field of Settings")
            elif not env[name].used:
                problems.append(f"{app.where}: {name} is neither a setting nor used by one")
        settings, error = _load(settings_cls, "HP_", env, exclude=("HP_AUTH_", "HP_BACKUP_"))
        if error:
            problems.append(f"{app.where}: the env does not load into Settings: {error}")
        backup = None
        if app.role in BACKUP_ROLES or any(name.startswith("HP_BACKUP_") for name in env):
            backup, error = _load(backup_cls, "HP_BACKUP_", env)
            if error:
                problems.append(f"{app.where}: the env does not load into BackupSettings: {error}")
        target = settings
        if app.role in AUTH_ROLES | BACKUP_ROLES:
            if auth_cls is None:
                continue
            auth, error = _load(auth_cls, "HP_AUTH_", env)
            if error:
                problems.append(f"{app.where}: the env does not load into AuthSettings: {error}")
            target = auth
            if app.role in BACKUP_ROLES:
                loaded = (settings, auth, backup)
                target = None if None in loaded else BackupJobSettings(*loaded)
        if target is None:
            continue
        for var, ok, wanted in ROLE_REQUIREMENTS[app.role]:
            if not ok(target, env):
                problems.append(f"{app.where} ({app.role}): {var} must be {wanted}")
    return problems


def check_jwt(docs: list[Doc], ctx: Context) -> list[str]:
    """Issuer and audience agree between the auth service, the API/ETL/relay verifiers and
    the gateway's SecurityPolicy; both JWKS URLs reach the auth service's JWKS."""
    problems: list[str] = []
    containers, _ = app_containers(docs, ctx)
    issuers: dict[str, str] = {}
    audiences: dict[str, set[str]] = {}
    jwks: dict[str, str] = {}
    for app in containers:
        if app.role == "auth":
            issuers[app.where] = app.env.get(
                "HP_AUTH_ISSUER", EnvVar("", "healthplatform-auth")
            ).value
            audiences[app.where] = {
                app.env.get("HP_AUTH_AUDIENCE", EnvVar("", "healthplatform-api")).value
            }
        elif app.role in PLATFORM_ROLES:
            issuers[app.where] = app.env.get(
                "HP_JWT_ISSUER", EnvVar("", "healthplatform-auth")
            ).value
            audiences[app.where] = {
                app.env.get("HP_JWT_AUDIENCE", EnvVar("", "healthplatform-api")).value
            }
            if "HP_JWT_JWKS_URL" in app.env:
                jwks[f"{app.where} HP_JWT_JWKS_URL"] = app.env["HP_JWT_JWKS_URL"].value
    for policy in of_kind(docs, "SecurityPolicy"):
        for provider in (policy.get("spec", {}).get("jwt") or {}).get("providers") or []:
            where = f"{ref(policy)} provider {provider.get('name')}"
            issuers[where] = str(provider.get("issuer", ""))
            audiences[where] = set(provider.get("audiences") or [])
            uri = (provider.get("remoteJWKS") or {}).get("uri")
            if uri:
                jwks[f"{where} remoteJWKS"] = str(uri)
    if len(set(issuers.values())) > 1:
        problems.append(f"JWT issuers disagree: {issuers}")
    if audiences and not set.intersection(*audiences.values()):
        problems.append(f"JWT audiences disagree: {audiences}")
    auth_services = {
        name_of(svc)
        for svc in of_kind(docs, "Service")
        for pt in _pods_selected(ctx, svc.get("spec", {}).get("selector"))
        if any(app_role(c) == "auth" for c in pt.containers(init=False))
    }
    for where, url in jwks.items():
        parts = urlsplit(url)
        located = service_of_host(parts.hostname or "", ctx.namespace)
        if located is None or located[0] not in auth_services:
            problems.append(f"{where}: {url} is not the auth service ({sorted(auth_services)})")
        elif parts.path != "/.well-known/jwks.json":
            problems.append(f"{where}: {url} is not the JWKS path /.well-known/jwks.json")
    return problems


def check_credentials(docs: list[Doc], ctx: Context) -> list[str]:
    """A URL whose password comes from Secret key (s, k) points at a server that reads the
    same (s, k), or at the operator-made Service of the database that owns Secret s."""
    problems: list[str] = []
    containers, _ = app_containers(docs, ctx)
    for app in containers:
        for var in app.env.values():
            for scheme, url in _urls_in(var.value):
                parts = urlsplit(url)
                secrets = [
                    v.secret
                    for v in app.env.values()
                    if v.secret and v.value and v.value == parts.password
                ]
                located = service_of_host(parts.hostname or "", ctx.namespace)
                if not secrets or located is None:
                    continue
                svc = ctx.service(located[0])
                if svc is None:
                    continue
                secret = secrets[0]
                if synthetic(svc):
                    owner = annotations_of(svc)[CREATED_BY].split("/", 1)[-1]
                    if secret[0] != f"{owner}-app":
                        problems.append(
                            f"{app.where}: {var.name} logs into {owner} with Secret "
                            f"{secret[0]!r}, not {owner}-app"
                        )
                    continue
                server_refs = {
                    (r[1], r[2])
                    for pt in _pods_selected(ctx, svc.get("spec", {}).get("selector"))
                    for r in _config_refs(pt.spec)
                    if r[0] == "Secret"
                }
                if secret not in server_refs:
                    problems.append(
                        f"{app.where}: {var.name} ({scheme}) uses password {secret}, but the "
                        f"pods behind Service {located[0]} read {sorted(server_refs)}"
                    )
    return problems


# --- pods ---------------------------------------------------------------------------------


def check_pod_security(docs: list[Doc]) -> list[str]:
    """Pod Security "restricted" on every pod template, plus: numeric non-root user,
    read-only root filesystem, no service account token unless needed, own ServiceAccount."""
    problems: list[str] = []
    for pt in pod_templates(docs):
        spec, where = pt.spec, pt.ref
        pod_sc = spec.get("securityContext") or {}
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(host):
                problems.append(f"{where}: {host} is set")
        for volume in spec.get("volumes") or []:
            kinds = set(volume) - {"name"}
            if not kinds <= RESTRICTED_VOLUME_TYPES:
                problems.append(
                    f"{where}: volume {volume['name']} of type {sorted(kinds)} is not allowed"
                )
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: automountServiceAccountToken is not false")
        if spec.get("serviceAccountName") in (None, "", "default"):
            problems.append(f"{where}: runs as the default ServiceAccount")
        if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{where}: pod seccompProfile Unconfined")
        for c in pt.containers():
            problems += _container_security(where, c, pod_sc)
    return problems


def _container_security(where: str, c: Doc, pod_sc: Doc) -> list[str]:
    sc = c.get("securityContext") or {}
    name = f"{where} {c['name']}"
    problems: list[str] = []
    if sc.get("privileged"):
        problems.append(f"{name}: privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation is not false")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        problems.append(f"{name}: capabilities do not drop ALL")
    if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
        problems.append(f"{name}: adds capabilities {caps.get('add')}")
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if non_root is not True:
        problems.append(f"{name}: runAsNonRoot is not true")
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if user is None:
        problems.append(f"{name}: runAsUser is not set")
    elif int(user) == 0:
        problems.append(f"{name}: runAsUser is 0")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"{name}: seccompProfile is {seccomp!r}, not RuntimeDefault")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: readOnlyRootFilesystem is not true")
    for port in c.get("ports") or []:
        if port.get("hostPort"):
            problems.append(f"{name}: hostPort {port['hostPort']}")
    return problems


def _resources_ok(where: str, resources: Doc | None) -> list[str]:
    resources = resources or {}
    problems = []
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(kind) or {}):
                problems.append(f"{where}: no {resource} {kind[:-1]}")
    return problems


def check_resources(docs: list[Doc]) -> list[str]:
    """CPU and memory requests AND limits on every container, CloudNativePG instance and
    Envoy proxy."""
    problems: list[str] = []
    for pt in pod_templates(docs):
        for c in pt.containers():
            problems += _resources_ok(f"{pt.ref} {c['name']}", c.get("resources"))
    for cluster in of_kind(docs, "Cluster"):
        problems += _resources_ok(ref(cluster), cluster.get("spec", {}).get("resources"))
    for proxy in of_kind(docs, "EnvoyProxy"):
        deployment = (
            proxy.get("spec", {})
            .get("provider", {})
            .get("kubernetes", {})
            .get("envoyDeployment", {})
        )
        problems += _resources_ok(ref(proxy), (deployment.get("container") or {}).get("resources"))
    return problems


def images(docs: list[Doc]) -> list[tuple[str, str]]:
    """(where, image) of every container image, CloudNativePG imageName and proxy image."""
    found = [
        (f"{pt.ref} {c['name']}", str(c.get("image", "")))
        for pt in pod_templates(docs)
        for c in pt.containers()
    ]
    found += [
        (ref(c), str(c["spec"]["imageName"]))
        for c in of_kind(docs, "Cluster")
        if c.get("spec", {}).get("imageName")
    ]
    return found


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference."""
    rest, _, digest = image.partition("@")
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = rest.rsplit(":", 1)
        return repo, tag, digest or None
    return rest, None, digest or None


def check_images(docs: list[Doc]) -> list[str]:
    """Every image has an explicit tag that is not `latest` (a digest alone also pins it)."""
    problems = []
    for where, image in images(docs):
        _, tag, digest = split_image(image)
        if tag == "latest":
            problems.append(f"{where}: image {image} uses the `latest` tag")
        elif tag is None and digest is None:
            problems.append(f"{where}: image {image} has no tag")
    return problems


def unpinned_digests(docs: list[Doc]) -> list[str]:
    """Images pinned by tag only (a digest is preferred); reported, not a failure."""
    return sorted({image for _, image in images(docs) if split_image(image)[2] is None})


def check_service_accounts(docs: list[Doc]) -> list[str]:
    """Each workload has its own ServiceAccount, rendered in the same release, token off."""
    problems: list[str] = []
    users: dict[str, list[str]] = {}
    for pt in pod_templates(docs):
        sa = pt.spec.get("serviceAccountName")
        if sa:
            users.setdefault(sa, []).append(pt.ref)
            if find(docs, "ServiceAccount", sa) is None:
                problems.append(f"{pt.ref}: ServiceAccount {sa!r} is not rendered")
    for sa, owners in users.items():
        if len(owners) > 1:
            problems.append(f"ServiceAccount {sa!r} is shared by {owners}")
    for sa_doc in of_kind(docs, "ServiceAccount"):
        if sa_doc.get("automountServiceAccountToken") is not False:
            problems.append(f"{ref(sa_doc)}: automountServiceAccountToken is not false")
    return problems


def _workload(docs: list[Doc], target: Doc) -> Doc | None:
    return find(docs, str(target.get("kind", "Deployment")), str(target.get("name")))


def replica_range(docs: list[Doc], workload: Doc) -> tuple[int, int]:
    """(min, max) replicas of a workload, autoscalers included."""
    spec = workload.get("spec", {})
    base = int(spec.get("replicas", 1)) if workload.get("kind") != "DaemonSet" else 1
    lo, hi = base, base
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        if _workload(docs, hpa["spec"]["scaleTargetRef"]) is workload:
            lo, hi = int(hpa["spec"].get("minReplicas", 1)), int(hpa["spec"]["maxReplicas"])
    for so in of_kind(docs, "ScaledObject"):
        if _workload(docs, so["spec"]["scaleTargetRef"]) is workload:
            lo = int(so["spec"].get("minReplicaCount", 0))
            hi = int(so["spec"].get("maxReplicaCount", 100))
    return lo, hi


def check_autoscaling(docs: list[Doc], ctx: Context) -> list[str]:
    """HPA/ScaledObject targets exist, CPU scaling has CPU requests, KEDA's fallback is not
    combined with CPU/memory triggers (KEDA refuses it), the RabbitMQ trigger watches the
    queue the target consumes, autoscaled Deployments leave replicas unset, PDBs allow an
    eviction."""
    problems: list[str] = []
    targets: list[tuple[Doc, Doc, bool]] = []  # (scaler, target workload, scales on cpu)
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        target = _workload(docs, hpa["spec"]["scaleTargetRef"])
        if target is None:
            problems.append(
                f"{ref(hpa)}: scaleTargetRef {hpa['spec']['scaleTargetRef']} does not exist"
            )
            continue
        if int(hpa["spec"].get("minReplicas", 1)) > int(hpa["spec"]["maxReplicas"]):
            problems.append(f"{ref(hpa)}: minReplicas > maxReplicas")
        cpu = any(
            (m.get("resource") or {}).get("name") == "cpu" for m in hpa["spec"].get("metrics") or []
        )
        targets.append((hpa, target, cpu))
    for so in of_kind(docs, "ScaledObject"):
        spec = so["spec"]
        target = _workload(docs, spec["scaleTargetRef"])
        if target is None:
            problems.append(f"{ref(so)}: scaleTargetRef {spec['scaleTargetRef']} does not exist")
            continue
        triggers = spec.get("triggers") or []
        kinds = {t["type"] for t in triggers}
        if spec.get("fallback") and kinds & {"cpu", "memory"}:
            problems.append(
                f"{ref(so)}: fallback cannot be combined with cpu/memory triggers (KEDA rejects it)"
            )
        for trigger in triggers:
            auth = (trigger.get("authenticationRef") or {}).get("name")
            if auth and find(docs, "TriggerAuthentication", auth) is None:
                problems.append(f"{ref(so)}: TriggerAuthentication {auth!r} does not exist")
            if trigger["type"] == "rabbitmq":
                problems += _queue_matches(so, trigger, target, ctx)
        targets.append((so, target, "cpu" in kinds))
    for scaler, target, cpu in targets:
        if "replicas" in target.get("spec", {}):
            problems.append(
                f"{ref(target)}: sets spec.replicas although {ref(scaler)} owns the count"
            )
        if cpu:
            for pt in pod_templates([target]):
                for c in pt.containers(init=False):
                    if "cpu" not in ((c.get("resources") or {}).get("requests") or {}):
                        problems.append(
                            f"{ref(scaler)}: scales on CPU but {pt.ref} {c['name']} "
                            "has no CPU request"
                        )
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        spec = pdb.get("spec", {})
        for pt in _pods_selected(ctx, spec.get("selector")):
            lo, _ = replica_range(docs, pt.owner)
            if (
                "minAvailable" in spec
                and str(spec["minAvailable"]).isdigit()
                and int(spec["minAvailable"]) >= lo
            ):
                problems.append(
                    f"{ref(pdb)}: minAvailable {spec['minAvailable']} >= {lo} replicas of "
                    f"{pt.ref}: no eviction is ever allowed"
                )
            if str(spec.get("maxUnavailable", "1")) in ("0", "0%"):
                problems.append(f"{ref(pdb)}: maxUnavailable 0 blocks every eviction of {pt.ref}")
    return problems


def _queue_matches(so: Doc, trigger: Doc, target: Doc, ctx: Context) -> list[str]:
    queue = (trigger.get("metadata") or {}).get("queueName")
    consumed = {
        env["HP_RABBITMQ_QUEUE"].value
        for pt in pod_templates([target])
        for c in pt.containers(init=False)
        for env in [container_env(c, ctx)[0]]
        if "HP_RABBITMQ_QUEUE" in env
    }
    if consumed and queue not in consumed:
        return [f"{ref(so)}: watches queue {queue!r} but {ref(target)} consumes {sorted(consumed)}"]
    return []


def check_hooks(docs: list[Doc], ctx: Context) -> list[str]:
    """A pre-install hook can only use objects that exist before the release's resources:
    other hooks with a lower weight, operator-made or user-provided ones."""
    problems: list[str] = []
    for pt in pod_templates(docs):
        hook = annotations_of(pt.owner).get("helm.sh/hook", "")
        if "pre-install" not in hook:
            continue
        weight = int(annotations_of(pt.owner).get("helm.sh/hook-weight", "0"))
        needed = [(kind, name) for kind, name, _, _ in _config_refs(pt.spec)]
        if pt.spec.get("serviceAccountName"):
            needed.append(("ServiceAccount", pt.spec["serviceAccountName"]))
        for kind, name in needed:
            doc = find(ctx.docs, kind, name)
            if doc is None:
                continue  # operator-made or external: checked by check_references
            notes = annotations_of(doc)
            if "pre-install" not in notes.get("helm.sh/hook", ""):
                problems.append(
                    f"{pt.ref}: pre-install hook uses {kind} {name!r}, created after the hooks"
                )
            elif int(notes.get("helm.sh/hook-weight", "0")) >= weight:
                problems.append(
                    f"{pt.ref}: {kind} {name!r} hook weight is not lower than the Job's"
                )
    return problems


def check_labels(docs: list[Doc]) -> list[str]:
    """Recommended labels on every object and pod template; selectors use only
    app.kubernetes.io/name and app.kubernetes.io/instance."""
    problems: list[str] = []
    for doc in docs:
        missing = [k for k in REQUIRED_LABELS if k not in labels_of(doc)]
        if missing:
            problems.append(f"{ref(doc)}: missing labels {missing}")
    for pt in pod_templates(docs):
        missing = [k for k in REQUIRED_LABELS if k not in pt.labels]
        if missing:
            problems.append(f"{pt.ref}: pod template misses labels {missing}")
        selector = pt.owner.get("spec", {}).get("selector")
        if isinstance(selector, dict) and pt.owner["kind"] not in ("Job", "CronJob"):
            extra = set(selector.get("matchLabels") or {}) - SELECTOR_LABEL_KEYS
            if extra or selector.get("matchExpressions"):
                problems.append(f"{pt.ref}: selector uses more than name+instance: {sorted(extra)}")
    for svc in of_kind(docs, "Service"):
        extra = set(svc.get("spec", {}).get("selector") or {}) - SELECTOR_LABEL_KEYS
        if extra:
            problems.append(f"{ref(svc)}: selector uses more than name+instance: {sorted(extra)}")
    return problems


def check_namespaces(docs: list[Doc], namespace: str = RENDER_NAMESPACE) -> list[str]:
    """No hard-coded namespace: a namespaced object either has none or the release's."""
    problems = []
    for doc in docs:
        ns = doc.get("metadata", {}).get("namespace")
        if doc.get("kind") in CLUSTER_SCOPED_KINDS:
            if ns:
                problems.append(f"{ref(doc)}: cluster-scoped object with a namespace")
        elif ns not in (None, namespace):
            problems.append(
                f"{ref(doc)}: namespace {ns!r} is hard-coded (release namespace is {namespace!r})"
            )
    return problems


def check_gateway(docs: list[Doc], ctx: Context) -> list[str]:
    """Routes attach to a rendered Gateway listener, extension filters and policy targets
    exist, the Gateway's class and EnvoyProxy exist, the proxy Service gets the OCI flexible
    load balancer annotations."""
    problems: list[str] = []
    gateways = {name_of(g): g for g in of_kind(docs, "Gateway")}
    for route in of_kind(docs, "HTTPRoute", "GRPCRoute"):
        for parent in route.get("spec", {}).get("parentRefs") or []:
            gw = gateways.get(parent["name"])
            if gw is None:
                problems.append(f"{ref(route)}: parent Gateway {parent['name']!r} does not exist")
                continue
            listeners = {item["name"] for item in gw["spec"].get("listeners") or []}
            if parent.get("sectionName") and parent["sectionName"] not in listeners:
                problems.append(
                    f"{ref(route)}: Gateway {parent['name']} has no listener "
                    f"{parent['sectionName']!r}"
                )
        for rule in route.get("spec", {}).get("rules") or []:
            for flt in rule.get("filters") or []:
                ext = flt.get("extensionRef")
                if ext and find(docs, ext["kind"], ext["name"]) is None:
                    problems.append(
                        f"{ref(route)}: filter {ext['kind']}/{ext['name']} does not exist"
                    )
    for policy in of_kind(docs, "SecurityPolicy", "BackendTrafficPolicy", "ClientTrafficPolicy"):
        for target in policy.get("spec", {}).get("targetRefs") or []:
            if find(docs, target["kind"], target["name"]) is None:
                problems.append(
                    f"{ref(policy)}: target {target['kind']}/{target['name']} does not exist"
                )
    for gw in gateways.values():
        cls = gw["spec"]["gatewayClassName"]
        if find(docs, "GatewayClass", cls) is None:
            problems.append(f"{ref(gw)}: GatewayClass {cls!r} is not rendered")
        params = (gw["spec"].get("infrastructure") or {}).get("parametersRef")
        if params and find(docs, params["kind"], params["name"]) is None:
            problems.append(
                f"{ref(gw)}: parametersRef {params['kind']}/{params['name']} does not exist"
            )
    for proxy in of_kind(docs, "EnvoyProxy"):
        service = (
            proxy.get("spec", {}).get("provider", {}).get("kubernetes", {}).get("envoyService", {})
        )
        problems += [
            f"{ref(proxy)}: {p}" for p in load_balancer_problems(service.get("annotations") or {})
        ]
    for svc in of_kind(docs, "Service"):
        if svc.get("spec", {}).get("type") == "LoadBalancer":
            problems += [f"{ref(svc)}: {p}" for p in load_balancer_problems(annotations_of(svc))]
    return problems


def load_balancer_problems(annotations: Mapping[str, str]) -> list[str]:
    """The annotations that make OKE create the free flexible L7 load balancer."""
    wanted = {
        "oci.oraclecloud.com/load-balancer-type": "lb",
        "service.beta.kubernetes.io/oci-load-balancer-shape": "flexible",
    }
    problems = [
        f"annotation {k} should be {v!r}" for k, v in wanted.items() if annotations.get(k) != v
    ]
    for bound in ("min", "max"):
        key = f"service.beta.kubernetes.io/oci-load-balancer-shape-flex-{bound}"
        if not str(annotations.get(key, "")).isdigit():
            problems.append(f"annotation {key} is missing")
    nsg = annotations.get("oci.oraclecloud.com/oci-network-security-groups")
    mode = annotations.get(
        "service.beta.kubernetes.io/oci-load-balancer-security-list-management-mode"
    )
    if nsg and mode != "None":
        problems.append("an NSG is set but security-list management is not None")
    if mode == "None" and not nsg:
        problems.append(
            "security-list management is None without an NSG: nothing would admit traffic"
        )
    return problems


CROSS_REFERENCE_CHECKS: dict[str, Callable[[list[Doc], Context], list[str]]] = {
    "selectors": check_selectors,
    "references": check_references,
    "ports": check_ports,
    "hostnames": check_hostnames,
    "env-order": check_env_order,
    "settings": check_settings,
    "jwt": check_jwt,
    "credentials": check_credentials,
    "autoscaling": check_autoscaling,
    "hooks": check_hooks,
    "gateway": check_gateway,
}
POD_CHECKS: dict[str, Callable[[list[Doc]], list[str]]] = {
    "pod-security": check_pod_security,
    "resources": check_resources,
    "images": check_images,
    "service-accounts": check_service_accounts,
    "labels": check_labels,
    "namespaces": check_namespaces,
}


def run_all(docs: list[Doc], ctx: Context) -> dict[str, list[str]]:
    """Every rule over one render: {rule: problems}, the backup rules of
    :mod:`healthplatform.ops.manifests_backups` included (as ``backups/<rule>``)."""
    from healthplatform.ops import manifests_backups  # imports this module

    results = {name: check(docs, ctx) for name, check in CROSS_REFERENCE_CHECKS.items()}
    results |= {name: check(docs) for name, check in POD_CHECKS.items()}
    results |= {f"backups/{k}": v for k, v in manifests_backups.run_all(docs, ctx).items()}
    return results
