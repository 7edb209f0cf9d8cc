"""Does a deployment profile fit its cluster? (`healthplatform capacity --profile X`)

The chart is rendered for the profile (deploy/profiles/<profile>.yaml, all layers) and its
pods are added to the pods every cluster runs anyway and to the components later issues
will install, which are budgeted here in :data:`RESERVATIONS` (later issues must fit these
numbers, or change them here and show that the profiles still fit). Checked:

* CPU and memory **requests** at peak (every autoscaler at its maximum, migration hooks and
  every CronJob running at once) placed on the nodes (largest first, each on the node with the
  most room left, like the scheduler's default scoring; DaemonSets on every node) within
  each node's allocatable minus the profile's headroom;
* memory **limits** in steady state at most :data:`MAX_MEMORY_LIMIT_OVERCOMMIT` times the
  allocatable memory (limits above requests are fine, but not without bound);
* block storage: boot volumes plus every PVC after OCI's rounding up to 50 GB (and to whole
  GB: 10Gi is 10.7 GB), against the allowance;
* object storage budgets, load balancer count and bandwidth.

Node allocatable is estimated: OKE's kubelet reserves CPU and memory for itself and the
system; :func:`node_reserved` uses the tiered formula managed Kubernetes services document
(GKE, AKS) plus a 100 MiB eviction threshold. Replace it with `kubectl describe node`'s
Allocatable once a cluster runs.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from healthplatform.ops import manifests
from healthplatform.ops.manifests import Doc

GIB_MI = 1024
MAX_MEMORY_LIMIT_OVERCOMMIT = 1.5
# Envoy Gateway adds a shutdown-manager container to every proxy pod.
SHUTDOWN_MANAGER = (5, 16, 50, 32)
# cert-manager starts one ACME HTTP-01 solver pod while a certificate is being issued.
ACME_SOLVER = (10, 64, 100, 64)


@dataclass(frozen=True)
class Reservation:
    """CPU (millicores) and memory (MiB) budgeted for a component the chart does not render."""

    component: str
    owner: str
    cpu_request: int
    memory_request: int
    cpu_limit: int
    memory_limit: int
    replicas: int = 1
    per_node: bool = False  # a DaemonSet: one pod on every node
    pvc_gb: int = 0


def _r(component: str, owner: str, numbers: tuple[int, int, int, int], **extra: Any) -> Reservation:
    return Reservation(component, owner, *numbers, **extra)


# (requests cpu m, memory Mi, limits cpu m, memory Mi). OKE rows are estimates of what OKE
# runs on a basic cluster; the other rows are the budgets later issues install within.
# No reservation has a PVC: on Always Free the block storage holds the two databases only,
# so Prometheus, Loki, Alertmanager and Jaeger keep data on emptyDir (or object storage).
RESERVATIONS: tuple[Reservation, ...] = (
    _r("kube-flannel", "OKE", (100, 50, 100, 50), per_node=True),
    _r("kube-proxy", "OKE", (10, 48, 200, 128), per_node=True),
    _r("csi-oci-node", "OKE", (10, 48, 100, 128), per_node=True),
    _r("proxymux-client", "OKE", (10, 32, 100, 64), per_node=True),
    _r("coredns", "OKE", (100, 70, 200, 170), replicas=2),
    _r("kube-dns-autoscaler", "OKE", (20, 10, 20, 32)),
    _r("cloudnative-pg operator", "operators (#6)", (25, 96, 200, 256)),
    _r("keda operator", "operators (#6)", (25, 96, 300, 256)),
    _r("keda metrics apiserver", "operators (#6)", (10, 64, 200, 192)),
    _r("keda admission webhooks", "operators (#6)", (10, 32, 100, 96)),
    _r("cert-manager controller", "operators (#6)", (10, 48, 100, 128)),
    _r("cert-manager webhook", "operators (#6)", (5, 24, 50, 64)),
    _r("cert-manager cainjector", "operators (#6)", (5, 48, 50, 128)),
    _r("cert-manager ACME solver (while issuing)", "operators (#6)", ACME_SOLVER),
    _r("envoy-gateway controller", "operators (#6)", (25, 96, 300, 256)),
    _r("prometheus-operator", "observability (#8)", (10, 48, 100, 128)),
    _r("prometheus (+config reloader)", "observability (#8)", (50, 400, 500, 768)),
    _r("alertmanager", "observability (#8)", (5, 32, 50, 64)),
    _r("grafana", "observability (#8)", (10, 128, 200, 256)),
    _r("kube-state-metrics", "observability (#8)", (5, 48, 50, 96)),
    _r("node-exporter", "observability (#8)", (5, 24, 50, 48), per_node=True),
    _r("loki (single binary)", "observability (#8)", (25, 192, 300, 384)),
    _r("alloy", "observability (#8)", (10, 96, 150, 192), per_node=True),
    _r("jaeger v2 all-in-one", "observability (#8)", (10, 96, 150, 192)),
    _r("sealed-secrets controller", "security (#9)", (5, 32, 50, 96)),
    _r("calico-node (policy only)", "security (#9)", (25, 96, 250, 256), per_node=True),
    _r("calico-kube-controllers", "security (#9)", (5, 32, 50, 96)),
    _r("argo-cd application controller", "gitops (#10)", (25, 192, 500, 384)),
    _r("argo-cd repo server", "gitops (#10)", (10, 96, 300, 384)),
    _r("argo-cd redis", "gitops (#10)", (5, 24, 50, 64)),
    _r("velero", "backups (#11)", (10, 96, 200, 256)),
    _r("velero node-agent", "backups (#11)", (5, 64, 200, 256), per_node=True),
    _r("barman-cloud plugin", "backups (#11)", (5, 32, 100, 96)),
)
# Pods of the render that belong to the backups (app.kubernetes.io/component of the pod
# template): reported under this owner. The barman-cloud sidecar is counted inside each
# PostgreSQL pod (see :func:`platform_pods`).
BACKUP_OWNER = "backups (#11)"
BACKUP_ROLE = "backup"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"


@dataclass
class Pod:
    """One pod's resources; ``peak_only`` pods run at peak only (extra replicas, hooks)."""

    name: str
    owner: str
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

    def used(self, attr: str) -> int:
        return sum(int(getattr(pod, attr)) for pod in self.pods)


@dataclass
class Volume:
    name: str
    requested: str
    billed_gb: int


@dataclass
class Report:
    profile: str
    nodes: list[Node]
    allocatable_cpu: int
    allocatable_memory: int
    reserved_cpu: int
    reserved_memory: int
    headroom_percent: int
    pods: list[Pod]
    unplaced: list[Pod]
    volumes: list[Volume]
    boot_gb: int
    block_storage_gb: int
    object_storage: dict[str, float]
    object_storage_gb: float
    load_balancers: int
    load_balancer_budget: int
    bandwidth_mbps: int
    bandwidth_budget_mbps: int
    problems: list[str]

    @property
    def fits(self) -> bool:
        return not self.problems

    def total(self, attr: str, *, peak: bool = True) -> int:
        nodes = len(self.nodes)
        return sum(
            int(getattr(p, attr)) * (nodes if p.per_node else 1)
            for p in self.pods
            if peak or not p.peak_only
        )


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
    """(cpu m, memory Mi) the kubelet keeps for the node itself (estimate, module docstring)."""
    cores = cpu_m / 1000
    cpu = 60 * min(cores, 1) + 10 * min(max(cores - 1, 0), 1)
    cpu += 5 * min(max(cores - 2, 0), 2) + 2.5 * max(cores - 4, 0)
    gib = memory_mi / GIB_MI
    memory = 0.25 * min(gib, 4) + 0.2 * min(max(gib - 4, 0), 4)
    memory += 0.1 * min(max(gib - 8, 0), 8) + 0.06 * max(gib - 16, 0)
    return math.ceil(cpu), math.ceil(memory * GIB_MI) + 100


# --- pods of the render ------------------------------------------------------------------------


def _container_resources(containers: Iterable[Doc]) -> tuple[int, int, int, int]:
    totals = [0, 0, 0, 0]
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        totals[0] += cpu_millicores(req.get("cpu", 0))
        totals[1] += memory_mib(req.get("memory", 0))
        totals[2] += cpu_millicores(lim.get("cpu", req.get("cpu", 0)))
        totals[3] += memory_mib(lim.get("memory", req.get("memory", 0)))
    return totals[0], totals[1], totals[2], totals[3]


def _pod_resources(spec: Doc) -> tuple[int, int, int, int]:
    """Effective pod resources: the larger of the biggest init container and the sum of the
    app containers (how the scheduler counts them)."""
    main = _container_resources(spec.get("containers") or [])
    init = [_container_resources([c]) for c in spec.get("initContainers") or []]
    cpu_req, mem_req, cpu_lim, mem_lim = (max([main[i], *(r[i] for r in init)]) for i in range(4))
    return cpu_req, mem_req, cpu_lim, mem_lim


def barman_sidecar(docs: list[Doc], cluster: Doc) -> Doc | None:
    """The container the barman-cloud plugin adds to each instance of a CloudNativePG
    Cluster whose WAL archiver it is: the resources of the ObjectStore it names."""
    for plugin in cluster.get("spec", {}).get("plugins") or []:
        if plugin.get("name") != BARMAN_PLUGIN or plugin.get("enabled") is False:
            continue
        store = manifests.find(
            docs, "ObjectStore", str((plugin.get("parameters") or {}).get("barmanObjectName"))
        )
        if store is not None:
            sidecar = store.get("spec", {}).get("instanceSidecarConfiguration") or {}
            return {"resources": sidecar.get("resources") or {}}
    return None


def platform_pods(docs: list[Doc]) -> list[Pod]:
    """Pods of the render: workloads at min replicas (steady) plus the extra replicas up to
    the autoscaler maximum, Jobs/CronJobs and migration hooks (peak only), CloudNativePG
    instances (with the barman-cloud sidecar) and Envoy proxies. Backup pods are reported
    under :data:`BACKUP_OWNER`."""
    pods: list[Pod] = []
    for pt in manifests.pod_templates(docs):
        kind = pt.owner["kind"]
        resources = _pod_resources(pt.spec)
        owner = (
            BACKUP_OWNER
            if pt.labels.get("app.kubernetes.io/component") == BACKUP_ROLE
            else "platform"
        )
        if kind in ("Job", "CronJob"):
            pods.append(Pod(pt.ref, owner, *resources, peak_only=True))
            continue
        lo, hi = manifests.replica_range(docs, pt.owner)
        per_node = kind == "DaemonSet"
        for index in range(max(hi, lo)):
            name = pt.ref if hi == 1 else f"{pt.ref}#{index + 1}"
            pods.append(Pod(name, owner, *resources, per_node=per_node, peak_only=index >= lo))
    for cluster in manifests.of_kind(docs, "Cluster"):
        spec = cluster.get("spec", {})
        containers = [{"resources": spec.get("resources")}]
        sidecar = barman_sidecar(docs, cluster)
        if sidecar is not None:
            containers.append(sidecar)
        resources = _container_resources(containers)
        for index in range(int(spec.get("instances", 1))):
            pods.append(Pod(f"{manifests.ref(cluster)}#{index + 1}", "platform", *resources))
    for proxy in manifests.of_kind(docs, "EnvoyProxy"):
        deployment = proxy["spec"]["provider"]["kubernetes"]["envoyDeployment"]
        envoy = _container_resources([deployment.get("container") or {}])
        cpu_req, mem_req, cpu_lim, mem_lim = (
            a + b for a, b in zip(envoy, SHUTDOWN_MANAGER, strict=True)
        )
        for index in range(int(deployment.get("replicas", 1))):
            name = f"{manifests.ref(proxy)}#{index + 1}"
            pods.append(Pod(name, "platform", cpu_req, mem_req, cpu_lim, mem_lim))
    return pods


def reserved_pods(reservations: Sequence[Reservation] = RESERVATIONS) -> list[Pod]:
    pods: list[Pod] = []
    for r in reservations:
        numbers = (r.cpu_request, r.memory_request, r.cpu_limit, r.memory_limit)
        transient = r.component.endswith("(while issuing)")
        for index in range(r.replicas):
            name = r.component if r.replicas == 1 else f"{r.component}#{index + 1}"
            pods.append(Pod(name, r.owner, *numbers, per_node=r.per_node, peak_only=transient))
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


# --- the report -------------------------------------------------------------------------------


def _volumes(docs: list[Doc], minimum_gb: int) -> list[Volume]:
    volumes: list[Volume] = []
    for cluster in manifests.of_kind(docs, "Cluster"):
        spec = cluster.get("spec", {})
        for part in ("storage", "walStorage"):
            size = (spec.get(part) or {}).get("size")
            if size:
                for index in range(int(spec.get("instances", 1))):
                    name = f"{manifests.ref(cluster)} {part} #{index + 1}"
                    volumes.append(Volume(name, str(size), billed_volume_gb(size, minimum_gb)))
    for sts in manifests.of_kind(docs, "StatefulSet"):
        replicas = int(sts.get("spec", {}).get("replicas", 1))
        for claim in sts.get("spec", {}).get("volumeClaimTemplates") or []:
            size = claim["spec"]["resources"]["requests"]["storage"]
            for index in range(replicas):
                name = f"{manifests.ref(sts)} {claim['metadata']['name']} #{index}"
                volumes.append(Volume(name, str(size), billed_volume_gb(size, minimum_gb)))
    for pvc in manifests.of_kind(docs, "PersistentVolumeClaim"):
        size = pvc["spec"]["resources"]["requests"]["storage"]
        volumes.append(Volume(manifests.ref(pvc), str(size), billed_volume_gb(size, minimum_gb)))
    return volumes


def _load_balancers(docs: list[Doc]) -> tuple[int, int]:
    """(count, highest flex-max Mbps) of the load balancers the render asks OCI for."""
    annotations: list[dict[str, Any]] = []
    for proxy in manifests.of_kind(docs, "EnvoyProxy"):
        service = proxy["spec"]["provider"]["kubernetes"].get("envoyService") or {}
        if service.get("type", "LoadBalancer") == "LoadBalancer":
            annotations.append(service.get("annotations") or {})
    for svc in manifests.of_kind(docs, "Service"):
        if svc.get("spec", {}).get("type") == "LoadBalancer":
            annotations.append(manifests.annotations_of(svc))
    key = "service.beta.kubernetes.io/oci-load-balancer-shape-flex-max"
    mbps = max((int(a.get(key, 0) or 0) for a in annotations), default=0)
    return len(annotations), mbps


def build_report(profile: str, docs: list[Doc], values: dict[str, Any]) -> Report:
    """Compare one render with the `capacity` section of the profile's values."""
    cap = values["capacity"]
    node_count = int(cap["nodes"])
    node_cpu = int(float(cap["ocpusPerNode"]) * 1000)
    node_memory = int(float(cap["memoryGbPerNode"]) * GIB_MI)
    reserved_cpu, reserved_memory = node_reserved(node_cpu, node_memory)
    allocatable_cpu, allocatable_memory = node_cpu - reserved_cpu, node_memory - reserved_memory
    headroom = int(cap.get("headroomPercent", 10))
    usable = (100 - headroom) / 100
    nodes = [
        Node(int(allocatable_cpu * usable), int(allocatable_memory * usable))
        for _ in range(node_count)
    ]
    pods = reserved_pods() + platform_pods(docs)
    unplaced = pack(pods, nodes)
    minimum = int(cap.get("minVolumeSizeGb", 50))
    volumes = _volumes(docs, minimum)
    boot = node_count * int(cap.get("bootVolumeGbPerNode", 50))
    budget = {str(k): float(v) for k, v in (cap.get("objectStorageBudgetGb") or {}).items()}
    lbs, mbps = _load_balancers(docs)
    report = Report(
        profile=profile,
        nodes=nodes,
        allocatable_cpu=allocatable_cpu,
        allocatable_memory=allocatable_memory,
        reserved_cpu=reserved_cpu,
        reserved_memory=reserved_memory,
        headroom_percent=headroom,
        pods=pods,
        unplaced=unplaced,
        volumes=volumes,
        boot_gb=boot,
        block_storage_gb=int(cap["blockStorageGb"]),
        object_storage=budget,
        object_storage_gb=float(cap["objectStorageGb"]),
        load_balancers=lbs,
        load_balancer_budget=int(cap.get("loadBalancers", 1)),
        bandwidth_mbps=mbps,
        bandwidth_budget_mbps=int(cap.get("loadBalancerMaxMbps", 10)),
        problems=[],
    )
    report.problems = _problems(report)
    return report


def _problems(r: Report) -> list[str]:
    problems = [
        f"{p.name} ({p.cpu_request}m / {p.memory_request}Mi requested) fits on no node "
        f"within {100 - r.headroom_percent}% of allocatable"
        for p in r.unplaced
    ]
    steady_limits = r.total("memory_limit", peak=False)
    ceiling = MAX_MEMORY_LIMIT_OVERCOMMIT * r.allocatable_memory * len(r.nodes)
    if steady_limits > ceiling:
        problems.append(
            f"memory limits {steady_limits}Mi exceed {MAX_MEMORY_LIMIT_OVERCOMMIT:.0%} of "
            f"allocatable ({ceiling:.0f}Mi)"
        )
    pvc_gb = sum(v.billed_gb for v in r.volumes) + sum(x.pvc_gb for x in RESERVATIONS)
    if r.boot_gb + pvc_gb > r.block_storage_gb:
        problems.append(
            f"block storage {r.boot_gb} GB boot + {pvc_gb} GB volumes = {r.boot_gb + pvc_gb} GB "
            f"> {r.block_storage_gb} GB"
        )
    planned = sum(r.object_storage.values())
    if planned > r.object_storage_gb:
        problems.append(f"object storage budgets {planned:g} GB > {r.object_storage_gb:g} GB")
    if r.load_balancers > r.load_balancer_budget:
        problems.append(f"{r.load_balancers} load balancers > {r.load_balancer_budget} allowed")
    if r.bandwidth_mbps > r.bandwidth_budget_mbps:
        problems.append(
            f"load balancer bandwidth {r.bandwidth_mbps} Mbps > {r.bandwidth_budget_mbps} Mbps"
        )
    return problems


def render_profile(profile: str, charts_dir: Path) -> tuple[list[Doc], dict[str, Any]]:
    """All layers of the chart rendered with the profile's values."""
    chart = charts_dir / manifests.CHART_NAME
    profiles_dir = charts_dir.parent / "profiles"
    values_file = manifests.profile_path(profile, profiles_dir)
    layers = {f"layers.{layer}": "true" for layer in ("data", "apps", "gateway")}
    docs = manifests.render(chart, [values_file], sets=layers)
    return docs, manifests.merged_values(chart, [values_file])


def report_for(profile: str, charts_dir: Path) -> Report:
    docs, values = render_profile(profile, charts_dir)
    return build_report(profile, docs, values)


# --- output ----------------------------------------------------------------------------------


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.write("  " + "  ".join(cells).rstrip() + "\n")
        if index == 0:
            out.write("  " + "  ".join("-" * w for w in widths) + "\n")


def print_report(r: Report, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    node = r.nodes[0]
    out.write(f"Capacity of profile {r.profile!r}: {len(r.nodes)} node(s)\n")
    out.write(
        f"Allocatable per node (estimated): {r.allocatable_cpu}m CPU, {r.allocatable_memory}Mi "
        f"(kubelet/system reserve {r.reserved_cpu}m, {r.reserved_memory}Mi); with "
        f"{r.headroom_percent}% headroom: {node.cpu}m, {node.memory}Mi\n\n"
    )
    out.write("Per node at peak (requests spread like the scheduler; limits of the same pods):\n")
    rows = [["node", "cpu req", "cpu lim", "mem req", "mem lim", "pods"]]
    for i, n in enumerate(r.nodes, 1):
        rows.append(
            [
                str(i),
                f"{n.used('cpu_request')}m",
                f"{n.used('cpu_limit')}m",
                f"{n.used('memory_request')}Mi",
                f"{n.used('memory_limit')}Mi",
                str(len(n.pods)),
            ]
        )
    _table(rows, out)
    out.write("\nRequests by owner (whole cluster, peak):\n")
    owners: dict[str, list[int]] = {}
    for p in r.pods:
        count = len(r.nodes) if p.per_node else 1
        sums = owners.setdefault(p.owner, [0, 0, 0, 0])
        for i, attr in enumerate(("cpu_request", "memory_request", "cpu_limit", "memory_limit")):
            sums[i] += int(getattr(p, attr)) * count
    rows = [["owner", "cpu req", "mem req", "cpu lim", "mem lim"]]
    for owner, (cr, mr, cl, ml) in owners.items():
        rows.append([owner, f"{cr}m", f"{mr}Mi", f"{cl}m", f"{ml}Mi"])
    rows.append(
        [
            "total",
            f"{r.total('cpu_request')}m",
            f"{r.total('memory_request')}Mi",
            f"{r.total('cpu_limit')}m",
            f"{r.total('memory_limit')}Mi",
        ]
    )
    _table(rows, out)
    pvc_gb = sum(v.billed_gb for v in r.volumes)
    out.write(f"\nBlock storage: {len(r.nodes)} boot volume(s) {r.boot_gb} GB\n")
    for v in r.volumes:
        out.write(f"  {v.name}: {v.requested} -> {v.billed_gb} GB\n")
    out.write(
        f"  total {r.boot_gb + pvc_gb} GB of {r.block_storage_gb} GB\n"
        f"Object storage: "
        + ", ".join(f"{k} {v:g} GB" for k, v in r.object_storage.items())
        + f" = {sum(r.object_storage.values()):g} GB of {r.object_storage_gb:g} GB\n"
        f"Load balancers: {r.load_balancers} of {r.load_balancer_budget}, "
        f"{r.bandwidth_mbps} Mbps (max {r.bandwidth_budget_mbps} Mbps)\n\n"
    )
    if r.fits:
        out.write(f"FITS: profile {r.profile!r} fits its budget.\n")
    else:
        out.write(f"DOES NOT FIT: profile {r.profile!r}\n")
        for problem in r.problems:
            out.write(f"  - {problem}\n")


def main(profile: str, charts_dir: Path) -> int:
    """Print the capacity table of a profile; 0 when it fits, 1 when not, 2 on errors."""
    try:
        report = report_for(profile, charts_dir)
    except (manifests.ToolMissingError, FileNotFoundError, RuntimeError) as exc:
        sys.stderr.write(f"capacity: {exc}\n")
        return 2
    print_report(report)
    return 0 if report.fits else 1
