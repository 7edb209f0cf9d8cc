"""The GitOps path rendered against the real upstream charts (healthplatform_deploy.render).

Every Application of each environment is rendered as Argo CD renders it (upstream packages
from HP_UPSTREAM_CHARTS, which tests/deploy/conftest.py points at the checksummed test-artifact
cache; the bootstrap kustomization
with the real Argo CD core install), once per session, and then:

* nothing fails to render, every external chart's package is there;
* every value key we set exists in the chart (values.yaml, subcharts, or read by a template);
* every Secret/ConfigMap any pod reads (upstream charts included) is created in the path;
* every container requests CPU and memory;
* every metric our rules and dashboards use is scraped by a rendered monitor;
* each check is shown failing on a broken copy of the real render.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from healthplatform_deploy import render as r
from healthplatform_deploy import render_checks as c
from healthplatform_deploy import scrape
from healthplatform_deploy import value_keys as vk

pytestmark = pytest.mark.deploy

ENVS = ("always-free", "dev")
ENSURE_TOOLS = r.REPO_ROOT / "scripts" / "ensure-k8s-tools.sh"


@pytest.fixture(scope="session", autouse=True)
def _tools() -> None:
    """Helm 4 and kubectl from scripts/ensure-k8s-tools.sh; the charts folder must exist."""
    result = subprocess.run(
        ["bash", str(ENSURE_TOOLS)], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/ensure-k8s-tools.sh failed:\n{result.stderr}")
    found = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    os.environ.setdefault("HP_HELM4", found["HELM4"])
    os.environ.setdefault("HP_KUBECTL", found["KUBECTL"])
    try:
        r.require_upstream_dir()
    except r.ChartsMissingError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def renders() -> dict[str, tuple[r.SourceRender, ...]]:
    return {env: r.render_environment(env) for env in ENVS}


def ours(renders: tuple[r.SourceRender, ...]) -> list[r.Doc]:
    return [d for x in renders if x.kind == "chart" for d in x.docs]


# --- the real environments ----------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_application_renders_with_the_real_charts(
    env: str, renders: dict[str, tuple[r.SourceRender, ...]]
) -> None:
    done = renders[env]
    upstream = {x.app for x in done if x.kind == "upstream"}
    expected = {
        r.name_of(app)
        for app in r.applications(env)
        if any(s.get("repoURL") != r.REPO_URL for s in r.sources(app))
    }
    assert upstream == expected and len(upstream) >= 11
    bootstrap = next(x for x in done if x.app == "argocd")
    kinds = {(d["kind"], r.name_of(d)) for d in bootstrap.docs}
    assert ("Deployment", "argocd-repo-server") in kinds  # the real core install, not a stub
    assert ("CustomResourceDefinition", "applications.argoproj.io") in kinds


@pytest.mark.parametrize("env", ENVS)
def test_value_keys_we_set_exist_in_the_chart(
    env: str, renders: dict[str, tuple[r.SourceRender, ...]]
) -> None:
    problems = [
        f"{x.app}: {key}"
        for x in renders[env]
        if x.chart is not None and x.values is not None
        for key in vk.unknown_keys(x.values.user_values(), vk.chart_values(x.chart))
    ]
    assert not problems, "keys the chart does not have:\n" + "\n".join(problems)


@pytest.mark.parametrize("env", ENVS)
def test_everything_a_pod_reads_is_created_in_the_gitops_path(
    env: str, renders: dict[str, tuple[r.SourceRender, ...]]
) -> None:
    docs = r.all_docs(renders[env])
    problems = c.check_references(docs, c.bootstrap_secrets(renders[env]))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVS)
def test_every_container_requests_cpu_and_memory(
    env: str, renders: dict[str, tuple[r.SourceRender, ...]]
) -> None:
    problems = c.check_requests(r.all_docs(renders[env]))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVS)
def test_every_metric_of_our_rules_and_dashboards_is_scraped(
    env: str, renders: dict[str, tuple[r.SourceRender, ...]]
) -> None:
    done = renders[env]
    used = scrape.used_metrics(ours(done))
    assert "certmanager_certificate_expiration_timestamp_seconds" in used
    assert len(used) > 30
    problems = scrape.check_metrics(ours(done), r.all_docs(done))
    assert not problems, "\n".join(problems)


def test_api_versions_given_to_helm_are_served_by_crds_of_the_path(
    renders: dict[str, tuple[r.SourceRender, ...]],
) -> None:
    served = set()
    for doc in r.all_docs(renders["always-free"]):
        if doc["kind"] == "CustomResourceDefinition":
            group = doc["spec"]["group"]
            served |= {f"{group}/{v['name']}" for v in doc["spec"]["versions"] if v.get("served")}
    assert set(r.API_VERSIONS) <= served, set(r.API_VERSIONS) - served


# --- each check fails on a broken copy ------------------------------------------------------


def test_a_render_error_or_a_missing_package_fails(tmp_path: Path) -> None:
    app = copy.deepcopy(next(a for a in r.applications("always-free") if r.name_of(a) == "keda"))
    app["spec"]["sources"][0]["targetRevision"] = "9.9.9"
    with pytest.raises(r.ChartsMissingError, match=r"keda-9\.9\.9\.tgz"):
        r.render_source(app, 0)
    app = copy.deepcopy(
        next(a for a in r.applications("always-free") if r.name_of(a) == "cert-manager")
    )
    app["spec"]["sources"][0]["helm"]["parameters"] = [{"name": "replicaCount", "value": "abc"}]
    with pytest.raises(r.RenderError, match="helm template cert-manager"):
        r.render_source(app, 0)


def test_an_unknown_value_key_is_found(renders: dict[str, tuple[r.SourceRender, ...]]) -> None:
    kps = next(x for x in renders["always-free"] if x.app == "kube-prometheus-stack")
    assert kps.chart is not None and kps.values is not None
    chart = vk.chart_values(kps.chart)
    given = kps.values.user_values()
    given["grafana"]["adminn"] = {"existingSecret": "x"}  # a typo in a subchart's key
    given["prometheus"]["prometheusSpec"]["retentionn"] = "1d"
    assert sorted(vk.unknown_keys(given, chart)) == [
        "grafana.adminn",
        "prometheus.prometheusSpec.retentionn",
    ]
    jaeger = next(x for x in renders["always-free"] if x.app == "jaeger")
    assert jaeger.chart is not None
    # Only in a comment of values.yaml, but read by the template: accepted.
    assert vk.unknown_keys({"jaeger": {"resources": {}}}, vk.chart_values(jaeger.chart)) == []


def test_a_secret_nothing_creates_is_found(
    renders: dict[str, tuple[r.SourceRender, ...]],
) -> None:
    docs = r.all_docs(renders["always-free"])
    problems = "\n".join(c.check_references(docs, {}))  # without the bootstrap's sealed secrets
    assert "kps-grafana reads Secret monitoring/grafana-admin" in problems
    assert "reads Secret healthplatform/healthplatform-s3" in problems
    bootstrap = c.bootstrap_secrets(renders["always-free"])
    assert ("Secret", "monitoring", "grafana-admin") in bootstrap


def test_a_container_without_requests_is_found(
    renders: dict[str, tuple[r.SourceRender, ...]],
) -> None:
    docs = copy.deepcopy(r.all_docs(renders["always-free"]))
    before = set(c.check_requests(docs))
    grafana = next(d for d in docs if d["kind"] == "Deployment" and r.name_of(d) == "kps-grafana")
    (container,) = [
        x for x in grafana["spec"]["template"]["spec"]["containers"] if x["name"] == "grafana"
    ]
    container["resources"] = {}
    assert set(c.check_requests(docs)) - before == {
        "Deployment/monitoring/kps-grafana/grafana: no cpu/memory request"
    }


def test_a_metric_nothing_scrapes_is_found(
    renders: dict[str, tuple[r.SourceRender, ...]],
) -> None:
    done = renders["always-free"]
    docs = [
        d
        for d in r.all_docs(done)
        if not (d["kind"] == "ServiceMonitor" and r.name_of(d) == "cert-manager")
    ]
    problems = "\n".join(scrape.check_metrics(ours(done), docs))
    assert "certmanager_certificate_expiration_timestamp_seconds" in problems
    assert scrape.metric_names('sum by (job) (rate(hp_x_total{a="b"}[5m])) / on(job) up') == {
        "hp_x_total",
        "up",
    }


@pytest.mark.parametrize("env", ENVS)
def test_calico_enforces_policies_before_any_is_applied(
    env: str, renders: dict[str, tuple[r.SourceRender, ...]]
) -> None:
    """Calico (policy only, on flannel) syncs before every Application that renders a
    NetworkPolicy; only the Argo CD bootstrap, applied by hand first, comes earlier."""
    done = renders[env]
    calico = [x for x in done if x.app == "calico"]
    assert calico, "no Application installs Calico"
    kinds = {(d["kind"], r.name_of(d)) for d in calico[0].docs}
    assert {("DaemonSet", "calico-node"), ("Deployment", "calico-kube-controllers")} <= kinds
    node = next(d for d in calico[0].docs if d["kind"] == "DaemonSet")
    (felix,) = node["spec"]["template"]["spec"]["containers"]
    assert felix["resources"]["requests"]["cpu"] == "25m"  # not the manifest's 250m
    with_policies = {
        x.app: x.wave for x in done if any(d["kind"] == "NetworkPolicy" for d in x.docs)
    }
    assert "hp-data" in with_policies
    early = {a: w for a, w in with_policies.items() if w <= calico[0].wave and a != "argocd"}
    assert not early, f"NetworkPolicies synced before Calico (wave {calico[0].wave}): {early}"


def _peak_rss_mib(command: list[str]) -> float:
    """Peak resident memory of a command, measured with GNU time (`/usr/bin/time -v`)."""
    if not Path("/usr/bin/time").is_file():
        pytest.fail("/usr/bin/time missing (Debian package `time`): needed to measure peak RSS")
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, timeout=300, check=True
    )
    line = next(x for x in result.stderr.splitlines() if "Maximum resident set size" in x)
    return int(line.rsplit(":", 1)[1]) / 1024


def _quantity_mib(value: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0, "MiB": 1.0, "GiB": 1024.0}
    number = value.rstrip("MGiB")
    return float(number) * units[value[len(number) :]]


def test_argocd_repo_server_memory_fits_the_largest_render(
    renders: dict[str, tuple[r.SourceRender, ...]], tmp_path: Path
) -> None:
    """The repo server's memory limit holds its own heap (GOMEMLIMIT) plus the peak RSS of
    the largest manifest generation it runs (one at a time: reposerver.parallelism.limit),
    with 10 % to spare: `helm template` of the largest chart with our values and `kustomize
    build` of the bootstrap (the core install)."""
    done = renders["always-free"]
    charts = [x for x in done if x.kind == "upstream"]
    largest = max(charts, key=lambda x: sum(len(str(d)) for d in x.docs))
    assert largest.app == "kube-prometheus-stack"
    helm_peak = _peak_rss_mib([*largest.command[:-2]])  # without the temporary inline file
    folder = r.ARGOCD_DIR / "bootstrap" / "argocd"
    copy = tmp_path / "bootstrap"
    shutil.copytree(folder, copy)
    text = (copy / "kustomization.yaml").read_text()
    remote = next(
        line for line in text.splitlines() if "core-install.yaml" in line and "://" in line
    )
    shutil.copy(r.require_upstream_dir() / r.ARGOCD_CORE_INSTALL, copy / r.ARGOCD_CORE_INSTALL)
    (copy / "kustomization.yaml").write_text(text.replace(remote, f"  - {r.ARGOCD_CORE_INSTALL}"))
    kustomize_peak = _peak_rss_mib([r.kubectl(), "kustomize", str(copy)])
    bootstrap = next(x for x in done if x.app == "argocd")
    server = next(
        d
        for d in bootstrap.docs
        if d["kind"] == "Deployment" and r.name_of(d) == "argocd-repo-server"
    )
    (container,) = [
        c
        for c in server["spec"]["template"]["spec"]["containers"]
        if c["name"] == "argocd-repo-server"
    ]
    env = {e["name"]: e.get("value") for e in container.get("env") or []}
    heap = _quantity_mib(str(env["GOMEMLIMIT"]))
    limit = _quantity_mib(container["resources"]["limits"]["memory"])
    peak = max(helm_peak, kustomize_peak)
    assert helm_peak > 60 and kustomize_peak > 60, (helm_peak, kustomize_peak)
    assert heap + 1.1 * peak <= limit, (
        f"repo server limit {limit:.0f} MiB < GOMEMLIMIT {heap:.0f} MiB + 110 % of the peak "
        f"child RSS (helm template {helm_peak:.0f} MiB, kustomize {kustomize_peak:.0f} MiB)"
    )
