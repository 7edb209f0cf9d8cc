"""`healthplatform-deploy capacity`: the capacity report.

Renders the GitOps path (:mod:`healthplatform_deploy.render`; the upstream charts from
HP_UPSTREAM_CHARTS), counts the pods of every layer (:mod:`healthplatform_deploy.capacity`),
places them on the profile's nodes and prints requests and limits per node and per layer,
memory limits against physical memory, block/object storage and load balancers. Exit 0
when it fits, 1 when not, 2 when it cannot render (the message says how to get the charts).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from healthplatform_deploy import capacity as cap
from healthplatform_deploy import render
from healthplatform_deploy.value_keys import chart_values

Doc = dict[str, Any]
CHART = render.REPO_ROOT / "deploy" / "charts" / "healthplatform"
PROFILES = render.REPO_ROOT / "deploy" / "profiles"
GITOPS_ENV = "always-free"
ALL_LAYERS = {"layers": {"data": True, "apps": True, "gateway": True}}


@dataclass
class Volume:
    name: str
    namespace: str
    requested: str
    billed_gb: int


@dataclass
class Report:
    profile: str
    nodes: list[cap.Node]
    physical_memory: int
    allocatable_cpu: int
    allocatable_memory: int
    headroom_percent: int
    pods: list[cap.Pod]
    unplaced: list[cap.Pod]
    volumes: list[Volume]
    boot_gb: int
    values: dict[str, Any]
    quota_pvcs: int | None
    load_balancers: int
    bandwidth_mbps: int
    problems: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.problems


def layer_of(r: render.SourceRender) -> str:
    if r.app == "argocd":
        return "bootstrap"
    return "platform chart" if r.kind == "chart" else "upstream charts"


def layered_docs(
    profile: str, chart: Path = CHART, profiles: Path = PROFILES
) -> tuple[dict[str, list[Doc]], dict[str, Any]]:
    """Rendered documents by layer, and the platform chart's values for the profile. The
    environment's own platform renders are used when it runs this profile; otherwise the
    chart is rendered with the profile (all layers) in their place."""
    profile_file = profiles / f"{profile}.yaml"
    if not profile_file.is_file():
        raise FileNotFoundError(f"no profile {profile!r} ({profile_file})")
    values = render.deep_merge(
        chart_values(chart).defaults, yaml.safe_load(profile_file.read_text()) or {}
    )
    layers: dict[str, list[Doc]] = {}
    own = True
    for r in render.render_environment(GITOPS_ENV):
        if r.kind == "chart" and r.values is not None and r.chart == chart.resolve():
            own = own and profile_file.resolve() in r.values.files
        layers.setdefault(layer_of(r), []).extend(r.docs)
    if not own or chart.resolve() != CHART.resolve():
        given = render.HelmInput([profile_file.resolve()], ALL_LAYERS, {})
        docs, _ = render.helm_template(chart, "healthplatform", "healthplatform", given)
        for doc in docs:
            meta = doc.setdefault("metadata", {})
            meta["namespace"] = meta.get("namespace") or "healthplatform"
        layers["platform chart"] = docs  # (hp-observability renders no pods)
    return layers, values


def volumes(docs: list[Doc], minimum_gb: int) -> list[Volume]:
    out: list[Volume] = []

    def add(name: str, ns: str, size: object) -> None:
        out.append(Volume(name, ns, str(size), cap.billed_volume_gb(size, minimum_gb)))

    for doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        ns = str(doc.get("metadata", {}).get("namespace", ""))
        ref = f"{kind}/{doc.get('metadata', {}).get('name')}"
        if kind == "Cluster" and str(doc.get("apiVersion", "")).startswith("postgresql.cnpg"):
            for part in ("storage", "walStorage"):
                size = (spec.get(part) or {}).get("size")
                for index in range(int(spec.get("instances", 1)) if size else 0):
                    add(f"{ref} {part} #{index + 1}", ns, size)
        elif kind == "StatefulSet":
            for claim in spec.get("volumeClaimTemplates") or []:
                size = claim["spec"]["resources"]["requests"]["storage"]
                for index in range(int(spec.get("replicas", 1))):
                    add(f"{ref} {claim['metadata']['name']} #{index}", ns, size)
        elif kind == "PersistentVolumeClaim":
            add(ref, ns, spec["resources"]["requests"]["storage"])
    return out


def _load_balancers(docs: list[Doc]) -> tuple[int, int]:
    annotations: list[dict[str, Any]] = []
    for doc in docs:
        spec = doc.get("spec") or {}
        if doc.get("kind") == "EnvoyProxy":
            service = spec["provider"]["kubernetes"].get("envoyService") or {}
            if service.get("type", "LoadBalancer") == "LoadBalancer":
                annotations.append(service.get("annotations") or {})
        elif doc.get("kind") == "Service" and spec.get("type") == "LoadBalancer":
            annotations.append(doc.get("metadata", {}).get("annotations") or {})
    key = "service.beta.kubernetes.io/oci-load-balancer-shape-flex-max"
    return len(annotations), max((int(a.get(key, 0) or 0) for a in annotations), default=0)


def build_report(profile: str, layers: dict[str, list[Doc]], values: dict[str, Any]) -> Report:
    c = values["capacity"]
    node_cpu, physical = (
        int(float(c["ocpusPerNode"]) * 1000),
        int(float(c["memoryGbPerNode"]) * 1024),
    )
    reserved_cpu, reserved_memory = cap.node_reserved(node_cpu, physical)
    headroom = int(c.get("headroomPercent", 10))
    usable = (100 - headroom) / 100
    alloc_cpu, alloc_memory = node_cpu - reserved_cpu, physical - reserved_memory
    nodes = [
        cap.Node(int(alloc_cpu * usable), int(alloc_memory * usable))
        for _ in range(int(c["nodes"]))
    ]
    everything = [d for docs in layers.values() for d in docs]
    pods = cap.estimated_pods()
    for layer, docs in layers.items():
        pods += cap.workload_pods(docs, layer)
    pods += cap.operator_pods(everything)
    unplaced = cap.pack(pods, nodes)
    platform = layers.get("platform chart", [])
    quotas = [
        int(q["spec"]["hard"]["persistentvolumeclaims"])
        for q in platform
        if q.get("kind") == "ResourceQuota"
        and "persistentvolumeclaims" in (q.get("spec", {}).get("hard") or {})
    ]
    lbs, mbps = _load_balancers(everything)
    report = Report(
        profile, nodes, physical, alloc_cpu, alloc_memory, headroom, pods, unplaced,
        volumes(everything, int(c.get("minVolumeSizeGb", 50))),
        len(nodes) * int(c.get("bootVolumeGbPerNode", 50)), values,
        min(quotas) if quotas else None, lbs, mbps,
    )  # fmt: skip
    report.problems = problems(report, platform)
    return report


def problems(r: Report, platform: list[Doc]) -> list[str]:
    c = r.values["capacity"]
    out = [
        f"{p.name} ({p.cpu_request}m / {p.memory_request}Mi requested, {p.layer}) fits on no "
        f"node within {100 - r.headroom_percent}% of allocatable"
        for p in r.unplaced
    ]
    for i, node in enumerate(r.nodes, 1):
        steady = node.used("memory_limit", peak=False)
        ceiling = MAX_OVERCOMMIT * r.allocatable_memory
        if steady > ceiling:
            out.append(
                f"node {i}: memory limits {steady}Mi in steady state exceed "
                f"{MAX_OVERCOMMIT:.0%} of allocatable ({ceiling:.0f}Mi)"
            )
    billed = sum(v.billed_gb for v in r.volumes)
    if r.boot_gb + billed > int(c["blockStorageGb"]):
        out.append(f"block storage {r.boot_gb} + {billed} GB > {c['blockStorageGb']} GB")
    namespaces = {str(d.get("metadata", {}).get("namespace")) for d in platform}
    own = [v for v in r.volumes if v.namespace in namespaces]
    minimum = int(c.get("minVolumeSizeGb", 50))
    if r.quota_pvcs is None:
        out.append("no ResourceQuota limits the platform's PVCs (a third volume would be billed)")
    else:
        if len(own) > r.quota_pvcs:
            out.append(f"the quota admits {r.quota_pvcs} PVCs, the platform renders {len(own)}")
        others = billed - sum(v.billed_gb for v in own)
        if r.boot_gb + others + r.quota_pvcs * minimum > int(c["blockStorageGb"]):
            out.append(
                f"the quota admits {r.quota_pvcs} x {minimum} GB volumes: with {r.boot_gb} GB boot "
                f"and {others} GB elsewhere that exceeds {c['blockStorageGb']} GB"
            )
    budget = sum(float(v) for v in (c.get("objectStorageBudgetGb") or {}).values())
    if budget > float(c["objectStorageGb"]):
        out.append(f"object storage budgets {budget:g} GB > {c['objectStorageGb']} GB")
    if r.load_balancers > int(c.get("loadBalancers", 1)):
        out.append(f"{r.load_balancers} load balancers > {c.get('loadBalancers', 1)} allowed")
    if r.bandwidth_mbps > int(c.get("loadBalancerMaxMbps", 10)):
        out.append(f"load balancer {r.bandwidth_mbps} Mbps > {c.get('loadBalancerMaxMbps')} Mbps")
    return out


MAX_OVERCOMMIT = cap.MAX_MEMORY_LIMIT_OVERCOMMIT


def report_for(profile: str, chart: Path = CHART, profiles: Path = PROFILES) -> Report:
    layers, values = layered_docs(profile, chart, profiles)
    return build_report(profile, layers, values)


# --- output ----------------------------------------------------------------------------------


def _mi(value: int) -> str:
    return "none" if value == cap.UNBOUNDED else f"{value}Mi"


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs]
        out.write("  " + "  ".join(cells).rstrip() + "\n")
        if index == 0:
            out.write("  " + "  ".join("-" * w for w in widths) + "\n")


def pressure_note(r: Report) -> str:
    """What happens when the pods use more memory than the node has."""
    return (
        "Under memory pressure: a container above its own limit is OOM-killed and restarted; "
        "when the node's available memory falls below the kubelet's eviction threshold "
        "(100Mi), the kubelet evicts pods, those using the most above their requests first "
        "(pods without requests before all others), and they are rescheduled where requests "
        "fit. Limits above allocatable are safe only while pods stay near their requests. "
        "Pods with a container without a memory limit can grow until eviction: "
        + ", ".join(f"node {i} {len(n.unbounded())}" for i, n in enumerate(r.nodes, 1))
        + "."
    )


def print_report(r: Report, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    node = r.nodes[0]
    out.write(f"Capacity of profile {r.profile!r} from the renders: {len(r.nodes)} node(s)\n")
    out.write(
        f"Per node: {r.physical_memory}Mi physical; allocatable (estimated) {r.allocatable_cpu}m "
        f"CPU, {r.allocatable_memory}Mi; with {r.headroom_percent}% headroom {node.cpu}m, "
        f"{node.memory}Mi\n\nPer node at peak (placed like the scheduler; DaemonSets on every "
        "node):\n"
    )
    rows = [["node", "cpu req", "mem req", "cpu lim", "mem lim", "mem lim/physical", "pods"]]
    for i, n in enumerate(r.nodes, 1):
        share = n.used("memory_limit") / r.physical_memory
        rows.append(
            [str(i), f"{n.used('cpu_request')}m", f"{n.used('memory_request')}Mi",
             f"{n.used('cpu_limit')}m", f"{n.used('memory_limit')}Mi", f"{share:.0%}",
             str(len(n.pods))]
        )  # fmt: skip
    _table(rows, out)
    out.write("\nBy layer (whole cluster, peak; DaemonSets x nodes):\n")
    sums: dict[str, list[int]] = {}
    attrs = ("cpu_request", "memory_request", "cpu_limit", "memory_limit")
    for p in r.pods:
        row = sums.setdefault(p.layer, [0, 0, 0, 0, 0])
        for i, attr in enumerate(attrs):
            row[i] += max(int(getattr(p, attr)), 0) * (len(r.nodes) if p.per_node else 1)
        row[4] += p.memory_limit == cap.UNBOUNDED
    rows = [["layer", "cpu req", "mem req", "cpu lim", "mem lim", "no mem limit"]]
    for layer, (cr, mr, cl, ml, nolim) in sums.items():
        rows.append([layer, f"{cr}m", f"{mr}Mi", f"{cl}m", f"{ml}Mi", str(nolim)])
    total = [sum(row[i] for row in sums.values()) for i in range(5)]
    rows.append(
        ["total", f"{total[0]}m", f"{total[1]}Mi", f"{total[2]}m", f"{total[3]}Mi", str(total[4])]
    )
    _table(rows, out)
    out.write("\n" + pressure_note(r) + "\n")
    c = r.values["capacity"]
    billed = sum(v.billed_gb for v in r.volumes)
    out.write(f"\nBlock storage: {len(r.nodes)} boot volume(s) {r.boot_gb} GB\n")
    for v in r.volumes:
        out.write(f"  {v.namespace}/{v.name}: {v.requested} -> {v.billed_gb} GB\n")
    out.write(
        f"  total {r.boot_gb + billed} GB of {c['blockStorageGb']} GB; ResourceQuota: at most "
        f"{r.quota_pvcs} PVC(s) in the platform namespace\n"
        f"Load balancers: {r.load_balancers}, {r.bandwidth_mbps} Mbps\n\n"
    )
    if r.fits:
        out.write(f"FITS: profile {r.profile!r} fits its budget.\n")
    else:
        out.write(f"DOES NOT FIT: profile {r.profile!r}\n")
        for problem in r.problems:
            out.write(f"  - {problem}\n")


def main(profile: str, chart: Path = CHART, profiles: Path = PROFILES) -> int:
    """Print the report of a profile; 0 when it fits, 1 when not, 2 when it cannot render."""
    try:
        report = report_for(profile, chart, profiles)
    except (render.RenderError, FileNotFoundError) as exc:
        sys.stderr.write(f"capacity: {exc}\n")
        return 2
    print_report(report)
    return 0 if report.fits else 1
