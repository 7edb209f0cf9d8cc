"""Alert rules and dashboards of deploy/observability/platform (the healthplatform-observability
chart), rendered with Helm and checked offline:

* `promtool check rules` on the rendered PrometheusRules and `promtool test rules` with the
  chart's tests/*.test.yaml; every alert (each severity) has a firing unit test and a
  runbook section in docs/observability.md;
* every dashboard: structure (uid, panels, ids, grid, targets), datasource uids that
  Grafana is provisioned with, PromQL that promtool accepts;
* every metric a rule or dashboard uses is exported by the platform's code (hp_*, with the
  labels the selectors use), an allowed exporter metric (fixtures/observability/
  exporter-metrics.yaml) or a recording rule of the chart;
* the rendered objects are schema-valid (kubernetes-validate, CRD schemas).
Each check fails on a broken fixture.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import kube
from healthplatform_deploy import workloads as workload_rules
from tests.deploy.test_charts import builtin_problems, crd_problems, tools
from tests.deploy.test_observability import (
    FIXTURES,
    OBS,
    datasource_uids,
    promtool_tools,
    run_tool,
)

pytestmark = pytest.mark.deploy

CHART = OBS / "platform"
DOCS = kube.REPO_ROOT / "docs" / "observability.md"
EXPORTER_METRICS = FIXTURES / "exporter-metrics.yaml"
# Labels Prometheus attaches to every target of a ServiceMonitor/PodMonitor.
TARGET_LABELS = frozenset(
    {"namespace", "pod", "job", "instance", "container", "endpoint", "service"}
)
PROMQL_WORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"offset", "bool", "inf", "nan"}
    # aggregations may be followed by `by (...)` instead of their parenthesis
    | {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk"}
    | {"quantile", "count_values"}
)
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
PANEL_TYPES = frozenset({"row", "stat", "timeseries", "gauge", "table", "bargauge", "text"})


# --------------------------------------------------------------------------------------
# Render and read
# --------------------------------------------------------------------------------------


@functools.cache
def rendered() -> list[kube.Doc]:
    return helm_chart.render(CHART, helm=tools()["HELM4"], namespace="monitoring")


def rule_groups(docs: Iterable[kube.Doc]) -> list[dict[str, Any]]:
    return [g for d in kube.of_kind(docs, "PrometheusRule") for g in d["spec"]["groups"]]


def rules_of(groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for g in groups for r in g["rules"]]


def dashboards_of(docs: Iterable[kube.Doc]) -> dict[str, dict[str, Any]]:
    found = {}
    for cm in kube.of_kind(docs, "ConfigMap"):
        if kube.labels_of(cm).get("grafana_dashboard") == "1":
            for key, text in cm["data"].items():
                found[key] = json.loads(text)
    return found


def write_rules(tmp_path: Path, groups: list[dict[str, Any]]) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


# --------------------------------------------------------------------------------------
# PromQL: metric names and label matchers
# --------------------------------------------------------------------------------------

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, keywords, labels, durations left out)."""
    text = _STRING.sub('""', grafana_to_promql(expr))
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = _GROUPING.sub(r"\1", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    names = set()
    for match in _NAME.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group(1) in PROMQL_WORDS:
            continue
        names.add(match.group(1))
    return names


def label_matchers(expr: str) -> list[tuple[str, str]]:
    """(metric, label) of every matcher inside a `metric{...}` selector."""
    text = _STRING.sub('""', grafana_to_promql(expr))
    return [
        (sel.group(1), label.group(1))
        for sel in _SELECTOR.finditer(text)
        for label in _MATCHER.finditer(sel.group(2))
    ]


def platform_metrics() -> dict[str, set[str]]:
    """Sample names the platform's code defines -> their label names (histograms add `le`)."""
    import importlib

    found: dict[str, set[str]] = {}
    for module_name in (
        "healthplatform.core.metrics",
        "healthplatform.auth.metrics",
        "healthplatform.ops.backups.status",
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for value in vars(module).values():
            if not isinstance(value, MetricWrapperBase):
                continue
            name, kind = value._name, value._type
            labels = set(value._labelnames)
            if kind == "counter":
                found[f"{name}_total"] = labels
            elif kind == "histogram":
                found[f"{name}_bucket"] = labels | {"le"}
                found[f"{name}_sum"] = labels
                found[f"{name}_count"] = labels
            else:
                found[name] = labels
    return found


def exporter_metrics() -> dict[str, str]:
    data = yaml.safe_load(EXPORTER_METRICS.read_text())
    return {name: exporter for exporter, names in data.items() for name in names}


def metric_problems(exprs: dict[str, str], recorded: set[str]) -> list[str]:
    """Every metric an expression uses is the platform's, an allowed exporter's or recorded;
    label matchers on platform metrics name labels the metric (or its target) has."""
    platform = platform_metrics()
    exporters = exporter_metrics()
    problems = []
    for where, expr in exprs.items():
        for name in sorted(metric_names(expr)):
            if name not in platform and name not in exporters and name not in recorded:
                problems.append(f"{where}: metric {name} is neither exported nor allowed")
        for metric, label in label_matchers(expr):
            if metric in platform and label not in platform[metric] | TARGET_LABELS:
                problems.append(f"{where}: {metric} has no label {label!r}")
    return problems


# --------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------


def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    groups = rule_groups(rendered())
    assert len(rules_of(groups)) > 40
    result = run_tool(
        promtool_tools()["PROMTOOL"], "check", "rules", str(write_rules(tmp_path, groups))
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_their_unit_tests(tmp_path: Path) -> None:
    write_rules(tmp_path, rule_groups(rendered()))
    tests = sorted((CHART / "tests").glob("*.test.yaml"))
    for test in tests:
        shutil.copy(test, tmp_path / test.name)
    result = run_tool(
        promtool_tools()["PROMTOOL"], "test", "rules", *(t.name for t in tests), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def fired_in_tests() -> set[tuple[str, str]]:
    """(alertname, severity) pairs some unit test expects to fire."""
    fired = set()
    for test in (CHART / "tests").glob("*.test.yaml"):
        for case in yaml.safe_load(test.read_text())["tests"]:
            for check in case.get("alert_rule_test") or []:
                for alert in check.get("exp_alerts") or []:
                    fired.add((check["alertname"], alert["exp_labels"].get("severity", "")))
    return fired


def test_every_alert_has_a_firing_unit_test_and_a_runbook() -> None:
    alerts = [r for r in rules_of(rule_groups(rendered())) if "alert" in r]
    assert len({a["alert"] for a in alerts}) >= 20
    docs = DOCS.read_text().lower()
    fired = fired_in_tests()
    for alert in alerts:
        key = (alert["alert"], alert["labels"]["severity"])
        assert key in fired, f"no unit test fires {key}"
        runbook = alert["annotations"]["runbook"]
        anchor = runbook.split("#", 1)[1]
        assert runbook.startswith("docs/observability.md#") and f"### {anchor}" in docs, runbook
        assert alert["labels"]["severity"] in ("critical", "warning")


def test_promtool_fails_on_broken_rules(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text((FIXTURES / "rules-broken.yaml").read_text())
    promtool = promtool_tools()["PROMTOOL"]
    result = run_tool(promtool, "check", "rules", str(broken))
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr
    # A unit test that expects the wrong labels fails too.
    write_rules(tmp_path, rule_groups(rendered()))
    shutil.copy(FIXTURES / "rules-wrong.test.yaml", tmp_path / "wrong.test.yaml")
    result = run_tool(promtool, "test", "rules", "wrong.test.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "PostgresDown" in result.stdout + result.stderr


def recorded_names(groups: Iterable[dict[str, Any]]) -> set[str]:
    return {r["record"] for r in rules_of(groups) if "record" in r}


def test_rules_use_exported_metrics() -> None:
    groups = rule_groups(rendered())
    exprs = {
        f"{g['name']}/{r.get('alert') or r.get('record')}": r["expr"]
        for g in groups
        for r in g["rules"]
    }
    assert not metric_problems(exprs, recorded_names(groups))


# --------------------------------------------------------------------------------------
# Dashboards
# --------------------------------------------------------------------------------------


def dashboard_exprs(dashboards: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        f"{name} panel {panel.get('id')} target {i}": target.get("expr", "")
        for name, dash in dashboards.items()
        for panel in dash.get("panels") or []
        for i, target in enumerate(panel.get("targets") or [])
    }


def dashboard_problems(dashboards: dict[str, dict[str, Any]], uids: set[str]) -> list[str]:
    problems = []
    seen_uids: set[str] = set()
    for name, dash in dashboards.items():
        for key in ("uid", "title", "panels", "schemaVersion"):
            if not dash.get(key):
                problems.append(f"{name}: no {key}")
        if dash.get("uid") in seen_uids:
            problems.append(f"{name}: uid {dash['uid']} is used twice")
        seen_uids.add(str(dash.get("uid")))
        ids = [p.get("id") for p in dash.get("panels") or []]
        if len(ids) != len(set(ids)) or None in ids:
            problems.append(f"{name}: panel ids are missing or repeated")
        for panel in dash.get("panels") or []:
            where = f"{name} panel {panel.get('id')} ({panel.get('title')})"
            if panel.get("type") not in PANEL_TYPES:
                problems.append(f"{where}: unknown type {panel.get('type')!r}")
            grid = panel.get("gridPos") or {}
            if not all(isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")):
                problems.append(f"{where}: gridPos needs x, y, w, h")
            elif grid["x"] + grid["w"] > 24:
                problems.append(f"{where}: wider than the 24-column grid")
            if panel.get("type") in ("row", "text"):
                continue
            targets = panel.get("targets") or []
            if not targets:
                problems.append(f"{where}: no targets")
            refs = [t.get("refId") for t in targets]
            if len(refs) != len(set(refs)) or None in refs:
                problems.append(f"{where}: refIds are missing or repeated")
            for source in [panel.get("datasource"), *(t.get("datasource") for t in targets)]:
                uid = (source or {}).get("uid")
                if uid not in uids:
                    problems.append(f"{where}: datasource uid {uid!r} is not provisioned")
            for target in targets:
                if not str(target.get("expr", "")).strip():
                    problems.append(f"{where}: target {target.get('refId')} has no expr")
    return problems


def promql_problems(exprs: dict[str, str], tmp_path: Path) -> list[str]:
    """promtool parses every expression (as recording rules named after the panel)."""
    rules = [
        {
            "record": "dashboard:" + re.sub(r"[^a-zA-Z0-9_]+", "_", where),
            "expr": grafana_to_promql(expr),
        }
        for where, expr in exprs.items()
    ]
    path = write_rules(tmp_path, [{"name": "dashboards", "rules": rules}])
    result = run_tool(promtool_tools()["PROMTOOL"], "check", "rules", str(path))
    if result.returncode == 0:
        return []
    return [f"promtool: {line}" for line in (result.stdout + result.stderr).splitlines() if line]


def test_dashboards_are_provisioned_for_the_sidecar() -> None:
    docs = rendered()
    dashboards = dashboards_of(docs)
    files = sorted(p.name for p in (CHART / "dashboards").glob("*.json"))
    assert sorted(dashboards) == files
    assert {
        "overview.json",
        "api.json",
        "etl.json",
        "data.json",
        "capacity.json",
        "security.json",
    } <= set(files)
    for cm in kube.of_kind(docs, "ConfigMap"):
        assert kube.annotations_of(cm)["grafana_folder"] == "Health platform"


def test_dashboards_are_valid(tmp_path: Path) -> None:
    dashboards = dashboards_of(rendered())
    assert not dashboard_problems(dashboards, datasource_uids())
    exprs = dashboard_exprs(dashboards)
    assert len(exprs) > 80
    assert not promql_problems(exprs, tmp_path)
    assert not metric_problems(exprs, recorded_names(rule_groups(rendered())))


def test_api_dashboard_shows_rate_errors_and_percentiles() -> None:
    exprs = " ".join(dashboard_exprs({"api": dashboards_of(rendered())["api.json"]}).values())
    for quantile in ("0.5", "0.95", "0.99"):
        wanted = f"histogram_quantile({quantile}, sum by (le) (rate(hp_http_request_duration"
        assert wanted in exprs


def test_dashboard_checks_fail_on_broken_fixture(tmp_path: Path) -> None:
    broken = {"broken.json": json.loads((FIXTURES / "dashboard-broken.json").read_text())}
    problems = dashboard_problems(broken, datasource_uids())
    assert "broken.json panel 2 (Latency): datasource uid 'prom' is not provisioned" in problems
    assert "broken.json panel 2 (Latency): refIds are missing or repeated" in problems
    assert "broken.json panel 3 (Wide): wider than the 24-column grid" in problems
    exprs = dashboard_exprs(broken)
    assert promql_problems(exprs, tmp_path)
    found = metric_problems(exprs, set())
    assert any("metric hp_http_request_seconds_bucket is neither exported" in p for p in found)
    assert any("hp_uploads_rejected_total has no label 'status'" in p for p in found)
    assert any("metric rabbitmq_queue_depth is neither exported" in p for p in found)


def test_exporter_allow_list_has_no_stale_entries() -> None:
    groups = rule_groups(rendered())
    exprs = dashboard_exprs(dashboards_of(rendered())) | {
        str(i): r["expr"] for i, r in enumerate(rules_of(groups))
    }
    used = set().union(*(metric_names(e) for e in exprs.values()))
    assert set(exporter_metrics()) - used == set()


def test_metric_name_extraction() -> None:
    expr = (
        'sum by (le) (rate(hp_x_bucket{route!~"/health.*",le="0.5"}[5m])) / on() group_right() '
        'healthplatform:limit{resource="cpu"} > 2e11 or vector(0) and up offset 5m'
    )
    assert metric_names(expr) == {"hp_x_bucket", "healthplatform:limit", "up"}
    assert label_matchers(expr) == [
        ("hp_x_bucket", "route"),
        ("hp_x_bucket", "le"),
        ("healthplatform:limit", "resource"),
    ]


# --------------------------------------------------------------------------------------
# Rendered objects
# --------------------------------------------------------------------------------------


def test_rendered_objects_are_schema_valid(tmp_path: Path) -> None:
    docs = rendered()
    assert not builtin_problems(docs, tmp_path)
    assert not crd_problems(docs)
    assert not workload_rules.check_labels(docs)
    assert not workload_rules.check_namespaces(docs, "monitoring")


def test_free_tier_limits_come_from_values() -> None:
    docs = helm_chart.render(
        CHART, helm=tools()["HELM4"], namespace="monitoring", sets={"freeTier.cpuCores": "4"}
    )
    limits = {
        r["labels"]["resource"]: r["expr"]
        for r in rules_of(rule_groups(docs))
        if r.get("record") == "healthplatform:free_tier_limit"
    }
    assert limits["cpu_cores"] == "vector(4)"
    assert limits["block_storage_bytes"] == "vector(200000000000)"
    assert set(limits) == {
        "cpu_cores",
        "memory_bytes",
        "block_storage_bytes",
        "boot_volume_bytes",
        "min_volume_bytes",
        "object_storage_bytes",
        "backup_budget_bytes",
        "load_balancers",
    }
