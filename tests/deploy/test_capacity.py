"""Capacity counted from the renders (healthplatform_deploy.capacity, capacity_report): every
layer of the GitOps path is rendered with the real upstream charts, placed on the nodes and
compared with the profile's budget; a profile that does not fit exits 1, a missing charts
folder exits 2 and says how to get the charts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from healthplatform_deploy import capacity, capacity_report, render

pytestmark = pytest.mark.deploy

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "charts"
PROFILES = ("always-free", "legacy-free", "paid-small")


@pytest.fixture(autouse=True, scope="module")
def _tools() -> None:
    result = subprocess.run(
        ["bash", str(render.REPO_ROOT / "scripts" / "ensure-k8s-tools.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/ensure-k8s-tools.sh failed:\n{result.stderr}")
    found = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    os.environ.setdefault("HP_HELM4", found["HELM4"])
    os.environ.setdefault("HP_KUBECTL", found["KUBECTL"])


@pytest.mark.parametrize(
    ("size", "billed"),
    [("10Gi", 50), ("5Gi", 50), ("50G", 50), ("50Gi", 54), ("60G", 60), ("100Gi", 108)],
)
def test_volumes_are_billed_in_whole_gb_of_at_least_50(size: str, billed: int) -> None:
    assert capacity.billed_volume_gb(size, 50) == billed


def test_quantities_and_missing_limits() -> None:
    assert capacity.cpu_millicores("50m") == 50
    assert capacity.cpu_millicores("0.25") == 250
    assert capacity.memory_mib("1Gi") == 1024
    assert capacity.memory_mib("512M") == 489
    with pytest.raises(ValueError, match="quantity"):
        capacity.quantity_bytes("lots")
    # Envoy's proxy container with limits + the shutdown-manager without: no memory limit.
    envoy = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    both = capacity.container_resources(
        [{"resources": envoy}, {"resources": capacity.SHUTDOWN_MANAGER}]
    )
    assert both == (60, 96, capacity.UNBOUNDED, capacity.UNBOUNDED)


def test_shutdown_manager_default_or_patched() -> None:
    assert capacity.shutdown_manager({}) == capacity.SHUTDOWN_MANAGER  # Envoy Gateway's own
    patched = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}
    container = {"name": "shutdown-manager", "resources": patched}
    deployment = {"patch": {"value": {"spec": {"template": {"spec": {"containers": [container]}}}}}}
    assert capacity.shutdown_manager(deployment) == patched


def test_node_reserve_estimate() -> None:
    assert capacity.node_reserved(1000, 6144) == (60, 1534)


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_fits(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity_report.main(profile) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert f"FITS: profile {profile!r}" in out
    for layer in ("kube-system (estimate)", "upstream charts", "bootstrap", "platform chart"):
        assert layer in out
    assert "Under memory pressure" in out


def test_always_free_counts_every_layer_from_the_renders() -> None:
    report = capacity_report.report_for("always-free")
    assert report.fits, report.problems
    assert len(report.nodes) == 2 and report.boot_gb == 100
    assert sorted(v.billed_gb for v in report.volumes) == [50, 50]  # the two databases only
    assert report.quota_pvcs == 2
    names = {p.name for p in report.pods}
    # Rendered, not listed: upstream workloads, the bootstrap, Calico, operator-made pods.
    assert {"Deployment/kps-grafana", "DaemonSet/calico-node", "StatefulSet/loki"} <= names
    assert "StatefulSet/argocd-application-controller" in names
    assert "Deployment/healthplatform-api#2" in names  # autoscaler maximum at peak
    assert "Job/healthplatform-migrate-health" in names
    proxy = next(p for p in report.pods if p.name.startswith("EnvoyProxy/"))
    # Envoy 50m/128Mi (500m/256Mi) + the shutdown-manager as our EnvoyProxy patches it.
    assert (proxy.cpu_request, proxy.memory_request) == (60, 160)
    assert (proxy.cpu_limit, proxy.memory_limit) == (550, 320)
    calico = next(p for p in report.pods if p.name == "DaemonSet/calico-node")
    assert calico.per_node and calico.cpu_request == 25
    for node in report.nodes:
        assert node.used("cpu_request") <= node.cpu
        assert node.used("memory_request") <= node.memory
        assert any(p.name == "DaemonSet/calico-node" for p in node.pods)
    # Requests counted from the renders equal the sum of the rendered containers.
    layers, _ = capacity_report.layered_docs("always-free")
    grafana = next(
        d
        for d in layers["upstream charts"]
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "kps-grafana"
    )
    pod = next(p for p in report.pods if p.name == "Deployment/kps-grafana")
    spec = grafana["spec"]["template"]["spec"]
    assert (pod.cpu_request, pod.memory_request) == capacity.pod_resources(spec)[:2]


def test_profile_over_budget_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURES / "profile-over-budget.yaml", tmp_path / "over-budget.yaml")
    assert capacity_report.main("over-budget", profiles=tmp_path) == 1
    out = capsys.readouterr().out
    assert "DOES NOT FIT" in out
    assert "block storage 100 + 150 GB > 200 GB" in out
    assert "the quota admits 2 PVCs, the platform renders 3" in out
    assert "object storage budgets 24 GB > 20 GB" in out
    assert "load balancer 100 Mbps > 10 Mbps" in out
    assert "fits on no node" in out


def test_unknown_profile_and_missing_charts_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert capacity_report.main("no-such-profile") == 2
    assert "no profile 'no-such-profile'" in capsys.readouterr().err
    env = {**os.environ, render.CHARTS_ENV: str(tmp_path / "nothing-here")}
    result = subprocess.run(
        [sys.executable, "-c", "from healthplatform_deploy.cli import main; main()", "capacity"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=render.REPO_ROOT,
    )
    assert result.returncode == 2, result.stderr
    assert "nothing-here" in result.stderr and "helm pull" in result.stderr


def test_runtime_package_does_not_import_the_deploy_package() -> None:
    code = (
        "import sys, healthplatform.cli, healthplatform.api; "
        "assert not [m for m in sys.modules if m.startswith('healthplatform_deploy')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
