"""Is every metric our PrometheusRules and Grafana dashboards use scraped?

A job-level check over the rendered GitOps path: each metric name in an ``expr``/``query``
is mapped by its prefix (:data:`EXPORTERS`, longest prefix wins) to the exporter that
serves it; a rendered ServiceMonitor/PodMonitor that a rendered Prometheus picks up must
select one of that exporter's rendered Services or pods (pods an operator creates carry the
declared labels). Series our own recording rules produce count as collected. Ports and
relabelling are not followed. A metric with an unknown prefix fails: add its exporter here
and to docs/observability.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from healthplatform_deploy.render_checks import namespace_of, pod_spec, ref

Doc = dict[str, Any]


@dataclass(frozen=True)
class Exporter:
    """Where metrics with a prefix come from: a monitor in `namespace` whose selector matches
    `labels` (or a scrape job kube-prometheus-stack configures, named by `job`)."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    job: str = ""
    operator_pods: bool = False  # pods an operator creates (not rendered)


# Metric name prefix -> exporter (longest prefix wins; docs/observability.md lists them).
NAME = "app.kubernetes.io/name"
PLATFORM = {"app.kubernetes.io/part-of": "healthplatform"}
EXPORTERS: dict[str, Exporter] = {
    "hp_": Exporter("health platform", "healthplatform", PLATFORM),
    "http_": Exporter("health platform", "healthplatform", PLATFORM),
    "cnpg_": Exporter("CloudNativePG", "healthplatform", {"cnpg.io/podRole": "instance"}, "", True),
    "certmanager_": Exporter("cert-manager", "cert-manager", {NAME: "cert-manager"}),
    "envoy_": Exporter(
        "Envoy proxies", "envoy-gateway-system", {"app.kubernetes.io/component": "proxy"}, "", True
    ),
    "rabbitmq_": Exporter("RabbitMQ", "healthplatform", {NAME: "rabbitmq"}),
    "velero_": Exporter("Velero", "velero", {NAME: "velero"}),
    "keda_": Exporter("KEDA", "keda", {NAME: "keda-operator"}),
    "kube_": Exporter("kube-state-metrics", "monitoring", {NAME: "kube-state-metrics"}),
    "node_": Exporter("node-exporter", "monitoring", {NAME: "prometheus-node-exporter"}),
    "container_": Exporter("kubelet cAdvisor", "kube-system", {}, job="kubelet"),
    "kubelet_": Exporter("kubelet", "kube-system", {}, job="kubelet"),
    "up": Exporter("Prometheus itself", "", {}, job="*"),
    "ALERTS": Exporter("Prometheus itself", "", {}, job="*"),
    "prometheus_": Exporter("Prometheus", "monitoring", {NAME: "prometheus"}),
    "loki_": Exporter("Loki", "monitoring", {NAME: "loki"}),
    "alertmanager_": Exporter("Alertmanager", "monitoring", {NAME: "alertmanager"}),
}
PROMQL_WORDS = frozenset(
    [
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "rate",
        "irate",
        "increase",
        "delta",
        "idelta",
        "deriv",
        "predict_linear",
        "histogram_quantile",
        "abs",
        "absent",
        "absent_over_time",
        "ceil",
        "floor",
        "round",
        "clamp",
        "clamp_min",
        "clamp_max",
        "time",
        "timestamp",
        "vector",
        "scalar",
        "label_replace",
        "label_join",
        "sort",
        "sort_desc",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
        "quantile_over_time",
        "stddev_over_time",
        "present_over_time",
        "changes",
        "resets",
        "day_of_week",
        "hour",
        "minute",
        "month",
        "year",
        "days_in_month",
        "sgn",
        "exp",
        "ln",
        "log2",
        "log10",
        "sqrt",
        "e",
        "inf",
        "nan",
        "atleast_once",
        "le",
    ]
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*[(=!~]|\s*,\s*\w+\s*[=!~])")


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (labels inside {} and strings dropped)."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)  # Grafana variables
    names = {m.group(1) for m in _IDENT.finditer(text)}
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"[0-9.e]+", n)}


def _exprs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("expr", "query") and isinstance(inner, str):
                yield inner
            else:
                yield from _exprs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _exprs(inner)


def used_metrics(docs: Iterable[Doc]) -> dict[str, set[str]]:
    """metric -> where it is used: our PrometheusRules and dashboard ConfigMaps."""
    used: dict[str, set[str]] = {}
    for doc in docs:
        exprs: list[str] = []
        if doc.get("kind") == "PrometheusRule":
            exprs = list(_exprs(doc.get("spec")))
        elif doc.get("kind") == "ConfigMap" and (doc["metadata"].get("labels") or {}).get(
            "grafana_dashboard"
        ):
            for text in (doc.get("data") or {}).values():
                exprs += list(_exprs(json.loads(text)))
        for expr in exprs:
            for name in metric_names(expr):
                used.setdefault(name, set()).add(ref(doc))
    return used


def exporter_of(metric: str) -> Exporter | None:
    prefixes = [p for p in EXPORTERS if metric.startswith(p) and (p != "up" or metric == "up")]
    return EXPORTERS[max(prefixes, key=len)] if prefixes else None


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    ok = all(labels.get(k) == v for k, v in wanted.items())
    for e in exprs:
        values, present = e.get("values") or [], e["key"] in labels
        op = e.get("operator")
        ok = ok and {
            "In": present and labels.get(e["key"]) in values,
            "NotIn": labels.get(e["key"]) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(str(op), False)
    return ok and bool(wanted or exprs)


def targets(exporter: Exporter, docs: list[Doc], kind: str) -> list[Mapping[str, str]]:
    """Labels of the exporter's rendered Services (kind "Service") or pods ("Pod"); pods an
    operator creates (not rendered) carry the exporter's declared labels."""
    found: list[Mapping[str, str]] = []
    for doc in docs:
        if namespace_of(doc) != exporter.namespace:
            continue
        if kind == "Service" and doc.get("kind") == "Service":
            labels = doc["metadata"].get("labels") or {}
        elif kind == "Pod" and pod_spec(doc) is not None:
            template = (doc.get("spec") or {}).get("template") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
        else:
            continue
        if all(labels.get(k) == v for k, v in exporter.labels.items()):
            found.append(labels)
    return found


def _selector_covers(selector: Mapping[str, Any], declared: Mapping[str, str]) -> bool:
    """Pods an operator creates carry the declared labels (and more): a selector of only
    declared labels, or of the declared labels plus the operator's own, selects them."""
    wanted = selector.get("matchLabels") or {}
    return bool(declared) and all(wanted.get(k) == v for k, v in declared.items())


def prometheus_selects(docs: list[Doc], monitor: Doc) -> bool:
    """A rendered Prometheus picks the monitor up: its (namespace) selectors for the kind
    are empty maps (everything) or match; a missing namespace selector means its own only."""
    prefix = "serviceMonitor" if monitor.get("kind") == "ServiceMonitor" else "podMonitor"
    labels = monitor["metadata"].get("labels") or {}
    for prom in (d for d in docs if d.get("kind") == "Prometheus"):
        spec = prom.get("spec") or {}
        selector, ns_selector = (
            spec.get(f"{prefix}Selector"),
            spec.get(f"{prefix}NamespaceSelector"),
        )
        if selector is None or (selector and not _matches(selector, labels)):
            continue
        if ns_selector is None and namespace_of(prom) != namespace_of(monitor):
            continue
        return True
    return False


def collected(exporter: Exporter, docs: list[Doc]) -> bool:
    """A rendered monitor that a rendered Prometheus picks up selects one of the exporter's
    Services/pods (a job-level check: ports and relabelling are not followed)."""
    if exporter.job == "*":
        return True
    for doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        if kind not in ("ServiceMonitor", "PodMonitor") or not prometheus_selects(docs, doc):
            continue
        if exporter.job:
            if kind == "ServiceMonitor" and exporter.job in str(doc["metadata"].get("name")):
                return True
            continue
        ns_selector = spec.get("namespaceSelector") or {}
        namespaces = ns_selector.get("matchNames") or [namespace_of(doc)]
        if not ns_selector.get("any") and exporter.namespace not in namespaces:
            continue
        kind_of_target = "Service" if kind == "ServiceMonitor" else "Pod"
        selector = spec.get("selector") or {}
        if any(_matches(selector, t) for t in targets(exporter, docs, kind_of_target)):
            return True
        operator_pods = kind == "PodMonitor" and exporter.operator_pods
        if operator_pods and _selector_covers(selector, exporter.labels):
            return True
    return False


def recorded(docs: Iterable[Doc]) -> set[str]:
    """Series our recording rules produce (their inputs are checked like any other use)."""
    return {
        str(rule["record"])
        for doc in docs
        if doc.get("kind") == "PrometheusRule"
        for group in (doc.get("spec") or {}).get("groups") or []
        for rule in group.get("rules") or []
        if rule.get("record")
    }


def check_metrics(ours: list[Doc], docs: list[Doc]) -> list[str]:
    """Metrics of our rules/dashboards (`ours`) against the monitors of everything (`docs`)."""
    problems = []
    made = recorded(ours)
    for metric, where in sorted(used_metrics(ours).items()):
        if metric in made:
            continue
        exporter = exporter_of(metric)
        if exporter is None:
            problems.append(f"{metric} (used by {sorted(where)}): no exporter known for it")
        elif not collected(exporter, docs):
            problems.append(
                f"{metric} (used by {sorted(where)}): no rendered ServiceMonitor/PodMonitor "
                f"scrapes {exporter.name} (namespace {exporter.namespace}, {dict(exporter.labels)})"
            )
    return problems
