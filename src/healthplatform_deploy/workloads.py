"""Workload-level rules: autoscaling (HPA/KEDA) ranges and triggers, Helm hooks, the
recommended labels, namespaces, the Gateway and its load-balancer annotations."""

from __future__ import annotations

from collections.abc import Mapping

from healthplatform_deploy.context import Context, container_env
from healthplatform_deploy.kube import (
    CLUSTER_SCOPED_KINDS,
    RENDER_NAMESPACE,
    REQUIRED_LABELS,
    SELECTOR_LABEL_KEYS,
    Doc,
    annotations_of,
    find,
    labels_of,
    name_of,
    of_kind,
    pod_templates,
    ref,
)
from healthplatform_deploy.references import config_refs, pods_selected


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
        for pt in pods_selected(ctx, spec.get("selector")):
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
        needed = [(kind, name) for kind, name, _, _ in config_refs(pt.spec)]
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
