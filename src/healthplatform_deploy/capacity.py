"""Does the whole install fit its nodes? Counted from the renders, not from a table.

Every pod the GitOps path starts is taken from the rendered objects
(:mod:`healthplatform_deploy.render`), by layer:

* ``platform chart``: the platform's releases (hp-data, hp-apps, hp-gateway) rendered with the
  environment's values (or, for another profile, the chart with that profile, all layers);
* ``upstream charts``: every external chart and manifest with our values (operators,
  observability, Velero, Calico, Sealed Secrets, ...);
* ``bootstrap``: the Argo CD core install with our patches;
* ``operator-made``: pods controllers create from rendered custom resources: CloudNativePG
  instances (with the barman-cloud sidecar of their ObjectStore), Envoy proxies (with
  Envoy Gateway's shutdown-manager, :data:`SHUTDOWN_MANAGER`) and cert-manager's ACME solver
  while a certificate is issued;
* ``kube-system (estimate)``: what OKE runs on a basic cluster (:data:`KUBE_SYSTEM`), the one
  part that cannot be rendered; estimates, to be replaced by `kubectl top` figures.

Peak = every autoscaler at its maximum, every Job/CronJob and the ACME solver running at
once. Pods are placed like the scheduler's default scoring (largest memory request first,
each on the fitting node with the most room left; DaemonSets on every node) within each
node's allocatable minus the profile's headroom. Memory limits are compared per node with
allocatable and physical memory (:func:`pressure_note` says what happens above). Block
storage counts boot volumes and every PVC after OCI's rounding, and the platform's
ResourceQuota must admit its own PVCs but no volume beyond the allowance.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
GIB_MI = 1024
MAX_MEMORY_LIMIT_OVERCOMMIT = 1.5
UNBOUNDED = -1  # a container without a memory (or CPU) limit
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
# Envoy Gateway starts a shutdown-manager container in every proxy pod with its built-in
# resources: 10m / 32Mi requested, no limits (v1.9.0; the EnvoyProxy API has no field for it).
SHUTDOWN_MANAGER = {"requests": {"cpu": "10m", "memory": "32Mi"}}
# cert-manager's HTTP-01 solver pod while a certificate is issued (its defaults).
ACME_SOLVER = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"cpu": "100m", "memory": "64Mi"},
}
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"


@dataclass(frozen=True)
class Estimate:
    """A pod OKE runs that nothing here renders: (cpu m, memory Mi) requests and limits."""

    name: str
    numbers: tuple[int, int, int, int]
    replicas: int = 1
    per_node: bool = False


# Estimates of OKE's kube-system on a basic cluster with flannel (docs/deploy.md, "Capacity").
KUBE_SYSTEM: tuple[Estimate, ...] = (
    Estimate("kube-flannel", (100, 50, 100, 50), per_node=True),
    Estimate("kube-proxy", (10, 48, 200, 128), per_node=True),
    Estimate("csi-oci-node", (10, 48, 100, 128), per_node=True),
    Estimate("proxymux-client", (10, 32, 100, 64), per_node=True),
    Estimate("coredns", (100, 70, 200, 170), replicas=2),
    Estimate("kube-dns-autoscaler", (20, 10, 20, 32)),
)


@dataclass
class Pod:
    """One pod's resources (cpu m, memory Mi); a limit of UNBOUNDED means none is set."""

    name: str
    layer: str
    cpu_request: int
    memory_request: int
    cpu_limit: int
    memory_limit: int
    per_node: bool = False
    peak_only: bool = False


@dataclass
class Node:
    cpu: int
    memory: int
    pods: list[Pod] = field(default_factory=list)

    def used(self, attr: str, *, peak: bool = True) -> int:
        return sum(max(int(getattr(p, attr)), 0) for p in self.pods if peak or not p.peak_only)

    def unbounded(self) -> list[Pod]:
        return [p for p in self.pods if p.memory_limit == UNBOUNDED]


# --- quantities -----------------------------------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def cpu_millicores(value: object) -> int:
    text = str(value)
    if text.endswith("m"):
        return math.ceil(float(text[:-1]))
    return math.ceil(float(text) * 1000)


def quantity_bytes(value: object) -> int:
    match = re.fullmatch(r"([0-9.]+)([KMGT]i|[kMGT])?", str(value))
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    factor = _BINARY.get(unit or "", 0) or _DECIMAL.get(unit or "", 1)
    return math.ceil(number * factor)


def memory_mib(value: object) -> int:
    return math.ceil(quantity_bytes(value) / 2**20)


def billed_volume_gb(size: object, minimum_gb: int) -> int:
    """What OCI provisions for a PVC: whole GB, at least the minimum volume size."""
    return max(minimum_gb, math.ceil(quantity_bytes(size) / 10**9))


def node_reserved(cpu_m: int, memory_mi: int) -> tuple[int, int]:
    """(cpu m, memory Mi) the kubelet keeps for the node itself: the tiered formula managed
    Kubernetes services document (GKE, AKS) plus a 100 MiB eviction threshold."""
    cores = cpu_m / 1000
    cpu = 60 * min(cores, 1) + 10 * min(max(cores - 1, 0), 1)
    cpu += 5 * min(max(cores - 2, 0), 2) + 2.5 * max(cores - 4, 0)
    gib = memory_mi / GIB_MI
    memory = 0.25 * min(gib, 4) + 0.2 * min(max(gib - 4, 0), 4)
    memory += 0.1 * min(max(gib - 8, 0), 8) + 0.06 * max(gib - 16, 0)
    return math.ceil(cpu), math.ceil(memory * GIB_MI) + 100


# --- pods of the renders ----------------------------------------------------------------------


def container_resources(containers: Iterable[Doc]) -> tuple[int, int, int, int]:
    """Summed (cpu req, mem req, cpu lim, mem lim); a missing limit makes the sum UNBOUNDED."""
    totals = [0, 0, 0, 0]
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        totals[0] += cpu_millicores(req.get("cpu", 0))
        totals[1] += memory_mib(req.get("memory", 0))
        for index, key, convert in ((2, "cpu", cpu_millicores), (3, "memory", memory_mib)):
            if totals[index] != UNBOUNDED:
                totals[index] = totals[index] + convert(lim[key]) if key in lim else UNBOUNDED
    return totals[0], totals[1], totals[2], totals[3]


def pod_resources(spec: Doc) -> tuple[int, int, int, int]:
    """Effective pod resources: the larger of the biggest init container and the sum of the
    app containers (how the scheduler counts them); UNBOUNDED wins for limits."""
    rows = [container_resources(spec.get("containers") or [])]
    rows += [container_resources([c]) for c in spec.get("initContainers") or []]
    out = [max(r[i] for r in rows) for i in range(2)]
    for i in (2, 3):
        values = [r[i] for r in rows]
        out.append(UNBOUNDED if UNBOUNDED in values else max(values))
    return out[0], out[1], out[2], out[3]


def _name(doc: Doc) -> str:
    return str(doc.get("metadata", {}).get("name", ""))


def _ref(doc: Doc) -> str:
    return f"{doc.get('kind')}/{_name(doc)}"


def _of_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind]


def _template_spec(doc: Doc) -> Doc:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Pod":
        return dict(spec)
    if doc.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return dict(spec.get("template", {}).get("spec") or {})


def replica_range(docs: Sequence[Doc], workload: Doc) -> tuple[int, int]:
    """(min, max) replicas of a workload, HPA and KEDA ScaledObject included."""
    spec = workload.get("spec") or {}
    base = 1 if workload.get("kind") == "DaemonSet" else int(spec.get("replicas", 1))
    lo, hi = base, base
    key = (str(workload.get("kind")), _name(workload))
    for scaler in docs:
        target = (scaler.get("spec") or {}).get("scaleTargetRef") or {}
        if (str(target.get("kind", "Deployment")), str(target.get("name"))) != key:
            continue
        if scaler.get("kind") == "HorizontalPodAutoscaler":
            lo, hi = int(scaler["spec"].get("minReplicas", 1)), int(scaler["spec"]["maxReplicas"])
        elif scaler.get("kind") == "ScaledObject":
            lo = int(scaler["spec"].get("minReplicaCount", 0))
            hi = int(scaler["spec"].get("maxReplicaCount", 100))
    return lo, hi


def barman_sidecar(docs: Sequence[Doc], cluster: Doc) -> Doc | None:
    """The container the barman-cloud plugin adds to each instance of a CloudNativePG
    Cluster whose WAL archiver it is: the resources of the ObjectStore it names."""
    for plugin in cluster.get("spec", {}).get("plugins") or []:
        if plugin.get("name") != BARMAN_PLUGIN or plugin.get("enabled") is False:
            continue
        wanted = str((plugin.get("parameters") or {}).get("barmanObjectName"))
        for store in _of_kind(docs, "ObjectStore"):
            if _name(store) == wanted:
                sidecar = store.get("spec", {}).get("instanceSidecarConfiguration") or {}
                return {"resources": sidecar.get("resources") or {}}
    return None


def workload_pods(docs: Sequence[Doc], layer: str) -> list[Pod]:
    """Pods of rendered workloads: min replicas (steady) plus extra replicas up to the
    autoscaler maximum and Jobs/CronJobs (peak only); DaemonSets once per node."""
    pods: list[Pod] = []
    for doc in docs:
        kind = doc.get("kind")
        if kind not in WORKLOADS:
            continue
        resources = pod_resources(_template_spec(doc))
        if kind in ("Job", "CronJob"):
            pods.append(Pod(_ref(doc), layer, *resources, peak_only=True))
            continue
        lo, hi = replica_range(docs, doc)
        for index in range(max(hi, lo)):
            name = _ref(doc) if hi == 1 else f"{_ref(doc)}#{index + 1}"
            per_node = kind == "DaemonSet"
            pods.append(Pod(name, layer, *resources, per_node=per_node, peak_only=index >= lo))
    return pods


def shutdown_manager(deployment: Doc) -> Doc:
    """Resources of the shutdown-manager container: Envoy Gateway's default, or what a
    StrategicMerge patch of the EnvoyProxy's deployment sets for it."""
    patch = deployment.get("patch") or {}
    template = ((patch.get("value") or {}).get("spec") or {}).get("template") or {}
    for container in (template.get("spec") or {}).get("containers") or []:
        if container.get("name") == "shutdown-manager" and container.get("resources"):
            return dict(container["resources"])
    return SHUTDOWN_MANAGER


def operator_pods(docs: Sequence[Doc]) -> list[Pod]:
    """Pods controllers create from rendered custom resources (module docstring)."""
    layer = "operator-made"
    pods: list[Pod] = []
    for cluster in _of_kind(docs, "Cluster"):
        if not str(cluster.get("apiVersion", "")).startswith("postgresql.cnpg.io"):
            continue
        spec = cluster.get("spec", {})
        containers = [{"resources": spec.get("resources") or {}}]
        sidecar = barman_sidecar(docs, cluster)
        if sidecar is not None:
            containers.append(sidecar)
        resources = container_resources(containers)
        for index in range(int(spec.get("instances", 1))):
            pods.append(Pod(f"{_ref(cluster)}#{index + 1}", layer, *resources))
    for proxy in _of_kind(docs, "EnvoyProxy"):
        deployment = proxy["spec"]["provider"]["kubernetes"].get("envoyDeployment") or {}
        envoy = {"resources": (deployment.get("container") or {}).get("resources") or {}}
        resources = container_resources([envoy, {"resources": shutdown_manager(deployment)}])
        for index in range(int(deployment.get("replicas", 1))):
            pods.append(Pod(f"{_ref(proxy)}#{index + 1}", layer, *resources))
    if _of_kind(docs, "Certificate") or _of_kind(docs, "ClusterIssuer"):
        solver = container_resources([{"resources": ACME_SOLVER}])
        pods.append(Pod("cert-manager ACME solver (while issuing)", layer, *solver, peak_only=True))
    return pods


def estimated_pods(estimates: Sequence[Estimate] = KUBE_SYSTEM) -> list[Pod]:
    layer = "kube-system (estimate)"
    pods: list[Pod] = []
    for e in estimates:
        for index in range(e.replicas):
            name = e.name if e.replicas == 1 else f"{e.name}#{index + 1}"
            pods.append(Pod(name, layer, *e.numbers, per_node=e.per_node))
    return pods


def pack(pods: list[Pod], nodes: list[Node]) -> list[Pod]:
    """Place the pods like the scheduler's default scoring (least allocated): largest memory
    request first, each on the fitting node with the most room left; DaemonSet pods on every
    node. Returns the pods that fit nowhere."""
    for node in nodes:
        node.pods += [p for p in pods if p.per_node]
    unplaced: list[Pod] = []
    movable = sorted(
        (p for p in pods if not p.per_node), key=lambda p: (-p.memory_request, -p.cpu_request)
    )

    def room(node: Node) -> float:
        cpu = (node.cpu - node.used("cpu_request")) / node.cpu
        memory = (node.memory - node.used("memory_request")) / node.memory
        return min(cpu, memory)

    for pod in movable:
        fitting = [
            node
            for node in nodes
            if node.used("cpu_request") + pod.cpu_request <= node.cpu
            and node.used("memory_request") + pod.memory_request <= node.memory
        ]
        if fitting:
            max(fitting, key=room).pods.append(pod)
        else:
            unplaced.append(pod)
    return unplaced
