"""Offline checks of the observability stack values (deploy/observability/*/values.yaml),
plus the helpers the other observability tests share.

* pinned chart versions, and every key of our values files exists in the pinned upstream
  chart (key lists extracted from its values.yaml: fixtures/observability/upstream-keys/);
* requests and limits add up to at most the per-component BUDGETS below (the whole install
  is counted from the renders by healthplatform_deploy.capacity), single replicas, no PVC
  (emptyDirs with size limits), retention and the 60 s scrape interval;
* the Alloy, Jaeger v2 and Loki configurations: references resolve, in-cluster URLs reach a
  Service port of the stack, retention is on;
* Alertmanager's configuration (amtool check-config) and its routing (amtool config routes).
Each check is shown failing on a broken fixture (fixtures/observability/).
"""

from __future__ import annotations

import copy
import functools
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthplatform_deploy import capacity, kube
from healthplatform_deploy import helm as helm_chart

pytestmark = pytest.mark.deploy

OBS = kube.REPO_ROOT / "deploy" / "observability"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "observability"
VERSIONS = yaml.safe_load((OBS / "versions.yaml").read_text())
NAMESPACE: str = VERSIONS["namespace"]
STACK = ("kube-prometheus-stack", "loki", "alloy", "jaeger")
ENSURE_PROMTOOL = kube.REPO_ROOT / "scripts" / "ensure-promtool.sh"

# Service ports of the stack's releases (fixed by the upstream charts at the pinned versions).
STACK_SERVICES: dict[str, set[int]] = {
    "loki": {3100, 9095},
    "jaeger": {4317, 4318, 16686, 16685},
    "alloy": {12345, 4317, 4318},
    "kps-prometheus": {9090},
    "kps-alertmanager": {9093},
}
# values path -> containers whose requests/limits it sets, per reservation row
# (the containers are those of `helm template` of the pinned charts with these values).
BUDGET: dict[str, list[tuple[str, str]]] = {
    "prometheus-operator": [("kube-prometheus-stack", "prometheusOperator.resources")],
    "prometheus (+config reloader)": [
        ("kube-prometheus-stack", "prometheus.prometheusSpec.resources"),
        ("kube-prometheus-stack", "prometheusOperator.prometheusConfigReloader.resources"),
    ],
    "alertmanager": [
        ("kube-prometheus-stack", "alertmanager.alertmanagerSpec.resources"),
        ("kube-prometheus-stack", "prometheusOperator.prometheusConfigReloader.resources"),
    ],
    "grafana": [
        ("kube-prometheus-stack", "grafana.resources"),
        ("kube-prometheus-stack", "grafana.sidecar.resources"),  # dashboard sidecar
    ],
    "kube-state-metrics": [("kube-prometheus-stack", "kube-state-metrics.resources")],
    "node-exporter": [("kube-prometheus-stack", "prometheus-node-exporter.resources")],
    "loki (single binary)": [("loki", "singleBinary.resources")],
    "alloy": [("alloy", "alloy.resources")],
    "jaeger v2 all-in-one": [("jaeger", "jaeger.resources")],
}
# Settings that keep the container lists above complete (no extra sidecars or pods).
PRECONDITIONS: dict[str, dict[str, Any]] = {
    "kube-prometheus-stack": {
        "prometheusOperator.admissionWebhooks.enabled": False,
        "grafana.sidecar.datasources.initDatasources": True,
        "grafana.testFramework.enabled": False,
        "grafana.persistence.enabled": False,
        "prometheus.prometheusSpec.replicas": 1,
        "alertmanager.alertmanagerSpec.replicas": 1,
    },
    "loki": {
        "deploymentMode": "Monolithic",
        "singleBinary.replicas": 1,
        "singleBinary.sidecar": False,
        "sidecar.rules.enabled": False,
        "singleBinary.persistence.enabled": False,
        "gateway.enabled": False,
        "chunksCache.enabled": False,
        "resultsCache.enabled": False,
        "lokiCanary.enabled": False,
        "test.enabled": False,
        "read.replicas": 0,
        "write.replicas": 0,
        "backend.replicas": 0,
    },
    "alloy": {"configReloader.enabled": False, "controller.type": "daemonset"},
    "jaeger": {"jaeger.replicas": 1},
}


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


@functools.cache
def stack_values(component: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((OBS / component / "values.yaml").read_text())
    return data


def get(tree: Any, path: str, default: Any = None) -> Any:
    for key in path.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return default
        tree = tree[key]
    return tree


def key_paths(tree: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            path = f"{prefix}{key}"
            yield path
            yield from key_paths(value, path + ".")


@functools.cache
def promtool_tools() -> dict[str, str]:
    """Paths printed by scripts/ensure-promtool.sh (installs the Debian packages once)."""
    result = subprocess.run(
        ["bash", str(ENSURE_PROMTOOL)], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/ensure-promtool.sh failed:\n{result.stderr}")
    found = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    for key in ("PROMTOOL", "AMTOOL"):
        if not Path(found.get(key, "")).is_file():
            pytest.fail(f"{key} missing after scripts/ensure-promtool.sh")
    return found


def run_tool(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, cwd=cwd)


# --------------------------------------------------------------------------------------
# Pins and upstream keys
# --------------------------------------------------------------------------------------


def upstream_keys(component: str) -> tuple[dict[str, str], set[str]]:
    """(path -> kind, free-form prefixes) of the pinned upstream chart."""
    version = VERSIONS["components"][component]["version"]
    kinds: dict[str, str] = {}
    free: set[str] = set()
    path = FIXTURES / "upstream-keys" / f"{component}-{version}.txt"
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        kind, key = line.split("#")[0].split()
        if kind == "free":
            free.add(key)
        else:
            kinds[key] = kind
    return kinds, free


def unknown_keys(component: str, values: dict[str, Any]) -> list[str]:
    """Keys of `values` the pinned upstream chart does not have (under an open map or a
    free-form passthrough section anything goes)."""
    kinds, free = upstream_keys(component)
    unknown = []
    for path in key_paths(values):
        parts = path.split(".")
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts))]
        if path in kinds or path in free:
            continue
        if any(kinds.get(p) == "open" or p in free for p in prefixes):
            continue
        unknown.append(path)
    return unknown


def test_versions_are_pinned() -> None:
    for name, entry in VERSIONS["components"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", str(entry["version"])), name
        assert (OBS / entry["values"]).is_file(), name
        assert entry["release"], name
    platform = yaml.safe_load((OBS / "platform" / "Chart.yaml").read_text())
    assert platform["version"] == VERSIONS["components"]["healthplatform-observability"]["version"]
    assert VERSIONS["components"]["jaeger"]["appVersion"].startswith("2.")  # Jaeger v1 is EOL
    assert "grafana-community" in VERSIONS["components"]["loki"]["repository"]


@pytest.mark.parametrize("component", STACK)
def test_values_use_only_keys_of_the_pinned_chart(component: str) -> None:
    assert not unknown_keys(component, stack_values(component))


def test_unknown_keys_are_found() -> None:
    broken = yaml.safe_load((FIXTURES / "values-unknown-keys.yaml").read_text())
    found = unknown_keys("kube-prometheus-stack", broken)
    assert "prometheus.prometheusSpec.retentionDays" in found
    assert "grafana.sidecars" in found
    assert "grafana.grafana.ini.server.root_url" not in found  # free-form passthrough


# --------------------------------------------------------------------------------------
# Budget, replicas, storage, retention
# --------------------------------------------------------------------------------------


def quantities(resources: dict[str, Any]) -> tuple[int, int, int, int]:
    req, lim = resources.get("requests") or {}, resources.get("limits") or {}
    return (
        capacity.cpu_millicores(req["cpu"]),
        capacity.memory_mib(req["memory"]),
        capacity.cpu_millicores(lim["cpu"]),
        capacity.memory_mib(lim["memory"]),
    )


@dataclass(frozen=True)
class Budget:
    """Per-component budget the observability values were sized to: (cpu m, memory Mi)
    requests and limits. The whole install is counted from the renders by
    healthplatform_deploy.capacity; these rows only keep each component within its share."""

    component: str
    cpu_request: int
    memory_request: int
    cpu_limit: int
    memory_limit: int


BUDGETS = (
    Budget("prometheus-operator", 10, 48, 100, 128),
    Budget("prometheus (+config reloader)", 50, 400, 500, 768),
    Budget("alertmanager", 5, 32, 50, 64),
    Budget("grafana", 10, 128, 200, 256),
    Budget("kube-state-metrics", 5, 48, 50, 96),
    Budget("node-exporter", 5, 24, 50, 48),
    Budget("loki (single binary)", 25, 192, 300, 384),
    Budget("alloy", 10, 96, 150, 192),
    Budget("jaeger v2 all-in-one", 10, 96, 150, 192),
)


def budget_problems(values: dict[str, dict[str, Any]]) -> list[str]:
    """Each budget row of observability (#8) covers the containers its values set."""
    rows = {r.component: r for r in BUDGETS}
    problems = [
        f"reservation {name!r} has no values mapping" for name in rows if name not in BUDGET
    ]
    for name, sources in BUDGET.items():
        row = rows.get(name)
        if row is None:
            problems.append(f"{name}: no such row in BUDGETS")
            continue
        total = [0, 0, 0, 0]
        for component, path in sources:
            resources = get(values[component], path)
            if not isinstance(resources, dict):
                problems.append(f"{name}: {component} {path} is not set")
                continue
            try:
                total = [a + b for a, b in zip(total, quantities(resources), strict=True)]
            except KeyError as exc:
                problems.append(f"{name}: {component} {path} has no {exc}")
        budget = (row.cpu_request, row.memory_request, row.cpu_limit, row.memory_limit)
        labels = ("cpu request (m)", "memory request (Mi)", "cpu limit (m)", "memory limit (Mi)")
        for label, used, allowed in zip(labels, total, budget, strict=True):
            if used > allowed:
                problems.append(f"{name}: {label} {used} > reserved {allowed}")
    for component, settings in PRECONDITIONS.items():
        for path, wanted in settings.items():
            if get(values[component], path) != wanted:
                problems.append(f"{component}: {path} must be {wanted!r} (budget assumes it)")
    # The Grafana datasource init container runs before the others: it must fit alone.
    init = get(values["kube-prometheus-stack"], "grafana.sidecar.resources") or {}
    if init and quantities(init)[1] > rows["grafana"].memory_request:
        problems.append("grafana: the datasource init container alone exceeds the reservation")
    return problems


def all_stack_values() -> dict[str, dict[str, Any]]:
    return {c: stack_values(c) for c in STACK}


def test_requests_and_limits_fit_the_observability_reservation() -> None:
    assert not budget_problems(all_stack_values())


def test_budget_check_fails_over_budget() -> None:
    values = copy.deepcopy(all_stack_values())
    broken = yaml.safe_load((FIXTURES / "values-over-budget.yaml").read_text())
    for component, override in broken.items():
        values[component] = helm_chart.deep_merge(values[component], override)
    problems = budget_problems(values)
    assert any("grafana: memory request (Mi) 208 > reserved 128" in p for p in problems), problems
    assert any("configReloader.enabled must be False" in p for p in problems), problems
    assert any(
        "loki (single binary): loki singleBinary.resources is not set" in p for p in problems
    )


def storage_problems(values: dict[str, dict[str, Any]]) -> list[str]:
    """No PVC anywhere (Always Free block storage is used up); bounded emptyDirs instead;
    retention set; scrape interval 60s."""
    problems: list[str] = []
    kps, loki = values["kube-prometheus-stack"], values["loki"]
    for path in ("prometheus.prometheusSpec.storageSpec", "alertmanager.alertmanagerSpec.storage"):
        spec = get(kps, path) or {}
        if set(spec) != {"emptyDir"} or not spec["emptyDir"].get("sizeLimit"):
            problems.append(f"kube-prometheus-stack {path}: not a size-limited emptyDir")
    if get(kps, "grafana.persistence.enabled") is not False:
        problems.append("grafana.persistence.enabled is not false")
    if get(kps, "prometheus.prometheusSpec.scrapeInterval") != "60s":
        problems.append("prometheus scrapeInterval is not 60s")
    for path in ("prometheus.prometheusSpec.retention", "prometheus.prometheusSpec.retentionSize"):
        if not get(kps, path):
            problems.append(f"{path} is not set")
    if get(loki, "singleBinary.persistence.enabled") is not False:
        problems.append("loki singleBinary.persistence.enabled is not false")
    volume = get(loki, "singleBinary.persistence.dataVolumeParameters") or {}
    if not get(volume, "emptyDir.sizeLimit"):
        problems.append("loki data volume is not a size-limited emptyDir")
    if get(loki, "loki.storage.type") not in ("filesystem", "s3"):
        problems.append("loki storage is neither filesystem nor object storage")
    if get(loki, "loki.compactor.retention_enabled") is not True:
        problems.append("loki compactor retention_enabled is not true")
    if not get(loki, "loki.limits_config.retention_period"):
        problems.append("loki limits_config.retention_period is not set")
    if not get(loki, "loki.compactor.delete_request_store"):
        problems.append("loki compactor.delete_request_store is not set (Loki 3 needs it)")
    for component in STACK:
        text = yaml.safe_dump(values[component])
        if re.search(r"persistentVolumeClaim|volumeClaimTemplates|storageClassName", text):
            problems.append(f"{component}: mentions a PersistentVolumeClaim")
    for volume in get(values["alloy"], "controller.volumes.extra") or []:
        if "emptyDir" in volume and not volume["emptyDir"].get("sizeLimit"):
            problems.append(f"alloy volume {volume['name']}: emptyDir without sizeLimit")
    storages = get(values["jaeger"], "userconfig.extensions.jaeger_storage.backends") or {}
    for name, backend in storages.items():
        if set(backend) - {"memory"}:
            problems.append(f"jaeger storage {name}: {sorted(backend)} needs a volume")
    return problems


def test_no_pvc_retention_and_interval() -> None:
    assert not storage_problems(all_stack_values())


def test_storage_check_fails_on_a_pvc() -> None:
    values = copy.deepcopy(all_stack_values())
    broken = yaml.safe_load((FIXTURES / "values-with-pvc.yaml").read_text())
    for component, override in broken.items():
        values[component] = helm_chart.deep_merge(values[component], override)
    problems = storage_problems(values)
    assert (
        "kube-prometheus-stack prometheus.prometheusSpec.storageSpec: not a size-limited emptyDir"
        in problems
    )
    assert "loki singleBinary.persistence.enabled is not false" in problems
    assert "loki compactor retention_enabled is not true" in problems
    assert "prometheus scrapeInterval is not 60s" in problems
    assert any("jaeger storage" in p for p in problems)


# --------------------------------------------------------------------------------------
# Alloy, Jaeger v2, Grafana datasources: references and in-cluster endpoints
# --------------------------------------------------------------------------------------

ALLOY_BLOCK = re.compile(r'^([a-z_]+(?:\.[a-z_]+)+)\s+"([A-Za-z0-9_]+)"\s*\{', re.MULTILINE)
ALLOY_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*')
ALLOY_HEADER = re.compile(r'^[a-z_]+(?:\.[a-z_]+)+\s+""\s*\{', re.MULTILINE)
ALLOY_REF = re.compile(r"(?<![\w.\"])([a-z_]+(?:\.[a-z_0-9]+){2,})(?![\w(])")


def alloy_problems(config: str) -> list[str]:
    """Balanced blocks, unique components, every component reference resolves to a defined
    component (`<component>.<label>.<export>`), every output is consumed somewhere."""
    problems: list[str] = []
    # strings and comments out in one pass (`//` inside a URL is not a comment)
    code = ALLOY_STRING_OR_COMMENT.sub(lambda s: '""' if s.group(0)[0] == '"' else "", config)
    depth = 0
    for char in code:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            problems.append("unbalanced braces: '}' without '{'")
            break
    if depth > 0:
        problems.append(f"unbalanced braces: {depth} block(s) not closed")
    uncommented = ALLOY_STRING_OR_COMMENT.sub(
        lambda s: s.group(0) if s.group(0)[0] == '"' else "", config
    )
    defined = [f"{b.group(1)}.{b.group(2)}" for b in ALLOY_BLOCK.finditer(uncommented)]
    for name in sorted({d for d in defined if defined.count(d) > 1}):
        problems.append(f"component {name} is defined twice")
    code = ALLOY_HEADER.sub("{", code)
    used: set[str] = set()
    for match in ALLOY_REF.finditer(code):
        ref = match.group(1)
        component = ref.rsplit(".", 1)[0]
        if component in defined:
            used.add(component)
        elif not any(ref.startswith(d + ".") for d in defined) and not ref.startswith("sys."):
            problems.append(f"reference {ref} does not resolve to a defined component")
    for name in defined:
        if name not in used and not name.startswith(("loki.source.", "otelcol.receiver.")):
            problems.append(f"component {name} is never referenced")
    return problems


def alloy_config(values: dict[str, Any]) -> str:
    return str(get(values, "alloy.configMap.content") or "")


def in_cluster_endpoints(text: str) -> list[tuple[str, str, int]]:
    """(text, service, port) of every host in `text` that is a Service of the stack's
    namespace (`<svc>.<namespace>.svc.cluster.local[:port]`)."""
    found = []
    pattern = rf"(?:https?://)?([a-z0-9-]+)\.{NAMESPACE}\.svc\.cluster\.local(?::(\d+))?[^\s\"']*"
    for match in re.finditer(pattern, text):
        port = int(match.group(2)) if match.group(2) else 80
        found.append((match.group(0), match.group(1), port))
    return found


def endpoint_problems(text: str) -> list[str]:
    problems = []
    for url, service, port in in_cluster_endpoints(text):
        ports = STACK_SERVICES.get(service)
        if ports is None:
            problems.append(f"{url}: no Service {service!r} in the stack")
        elif port not in ports:
            problems.append(f"{url}: Service {service} has ports {sorted(ports)}, not {port}")
    return problems


def test_alloy_config_references_resolve() -> None:
    config = alloy_config(stack_values("alloy"))
    assert not alloy_problems(config)
    assert "otelcol.receiver.otlp" in config and "loki.source.kubernetes" in config
    assert not endpoint_problems(config)
    assert {s for _, s, _ in in_cluster_endpoints(config)} == {"loki", "jaeger"}
    ports = {p["port"] for p in get(stack_values("alloy"), "alloy.extraPorts")}
    assert {4317, 4318} <= ports  # the OTLP receiver is reachable through the Service


def test_alloy_check_fails_on_broken_config() -> None:
    broken = (FIXTURES / "alloy-broken.alloy").read_text()
    problems = alloy_problems(broken)
    assert "reference loki.process.logs.receiver does not resolve to a defined component" in (
        problems
    )
    assert "component otelcol.processor.batch.default is never referenced" in problems
    assert any("unbalanced braces" in p for p in problems)
    assert endpoint_problems(broken) == [
        "http://loki-gateway.monitoring.svc.cluster.local/loki/api/v1/push: "
        "no Service 'loki-gateway' in the stack"
    ]


def jaeger_problems(config: dict[str, Any]) -> list[str]:
    """The Jaeger v2 (OpenTelemetry Collector) config: pipelines and extensions name defined
    components, the query and the exporter use a defined storage backend, the health check
    and OTLP receivers listen where the chart's probes and Service expect them."""
    problems: list[str] = []
    service = config.get("service") or {}
    for name in service.get("extensions") or []:
        if name not in (config.get("extensions") or {}):
            problems.append(f"service.extensions: {name} is not defined")
    for pipeline, spec in (service.get("pipelines") or {}).items():
        for kind in ("receivers", "processors", "exporters"):
            for name in spec.get(kind) or []:
                if name not in (config.get(kind) or {}):
                    problems.append(f"pipeline {pipeline}: {kind[:-1]} {name} is not defined")
    backends = get(config, "extensions.jaeger_storage.backends") or {}
    for where in (
        "extensions.jaeger_query.storage.traces",
        "exporters.jaeger_storage_exporter.trace_storage",
    ):
        if get(config, where) not in backends:
            problems.append(f"{where}: {get(config, where)!r} is not a jaeger_storage backend")
    if not str(get(config, "extensions.healthcheckv2.http.endpoint", "")).endswith(":13133"):
        problems.append("healthcheckv2 does not listen on 13133 (the chart's probes)")
    for proto, port in (("grpc", 4317), ("http", 4318)):
        endpoint = str(get(config, f"receivers.otlp.protocols.{proto}.endpoint", ""))
        if not endpoint.endswith(f":{port}") or endpoint.startswith(("localhost", "127.")):
            problems.append(f"otlp {proto} receiver does not listen on 0.0.0.0:{port}")
    return problems


def test_jaeger_config_is_consistent() -> None:
    config = get(stack_values("jaeger"), "userconfig")
    assert not jaeger_problems(config)
    assert get(config, "extensions.jaeger_storage.backends.memstore.memory.max_traces") > 0


def test_jaeger_check_fails_on_broken_config() -> None:
    broken = yaml.safe_load((FIXTURES / "jaeger-broken.yaml").read_text())
    problems = jaeger_problems(broken)
    assert "pipeline traces: exporter jaeger_storage_exporter is not defined" in problems
    assert any("is not a jaeger_storage backend" in p for p in problems)
    assert "healthcheckv2 does not listen on 13133 (the chart's probes)" in problems
    assert "otlp grpc receiver does not listen on 0.0.0.0:4317" in problems


def datasource_uids() -> set[str]:
    """UIDs of the datasources Grafana is provisioned with (kube-prometheus-stack values)."""
    grafana = get(stack_values("kube-prometheus-stack"), "grafana")
    uids = {
        get(grafana, "sidecar.datasources.uid"),
        get(grafana, "sidecar.datasources.alertmanager.uid", "alertmanager"),
    }
    uids |= {d["uid"] for d in grafana.get("additionalDataSources") or []}
    return {str(u) for u in uids if u}


def test_grafana_datasources_reach_the_stack() -> None:
    grafana = get(stack_values("kube-prometheus-stack"), "grafana")
    sources = grafana["additionalDataSources"]
    assert {"prometheus", "loki", "jaeger"} <= datasource_uids()
    assert not endpoint_problems(yaml.safe_dump(sources))
    linked = {
        field["datasourceUid"] for s in sources for field in get(s, "jsonData.derivedFields") or []
    } | {get(s, "jsonData.tracesToLogsV2.datasourceUid") for s in sources}
    assert linked - {None} <= datasource_uids()


# --------------------------------------------------------------------------------------
# Alertmanager: config check and routing
# --------------------------------------------------------------------------------------


def alertmanager_config(tmp_path: Path, *extra: Path) -> Path:
    values = stack_values("kube-prometheus-stack")
    for path in extra:
        values = helm_chart.deep_merge(values, yaml.safe_load(path.read_text()))
    config = tmp_path / "alertmanager.yaml"
    config.write_text(yaml.safe_dump(values["alertmanager"]["config"], sort_keys=False))
    return config


def route(config: Path, *labels: str) -> str:
    result = run_tool(
        promtool_tools()["AMTOOL"], "config", "routes", "test", f"--config.file={config}", *labels
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("receivers", ["default", "example"])
def test_alertmanager_config_is_valid(tmp_path: Path, receivers: str) -> None:
    extra = (
        ()
        if receivers == "default"
        else (OBS / "kube-prometheus-stack" / "receivers.example.yaml",)
    )
    config = alertmanager_config(tmp_path, *extra)
    result = run_tool(promtool_tools()["AMTOOL"], "check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert route(config, "severity=critical", "alertname=PostgresDown") == "platform-critical"
    assert route(config, "severity=warning", "alertname=BackupMissing") == "platform-warning"
    assert route(config, "alertname=Watchdog", "severity=none") == "null"
    assert route(config, "severity=info") == "null"


def test_alertmanager_check_fails_on_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text((FIXTURES / "alertmanager-broken.yaml").read_text())
    result = run_tool(promtool_tools()["AMTOOL"], "check-config", str(config))
    assert result.returncode != 0
    assert "undefined receiver" in result.stdout + result.stderr
