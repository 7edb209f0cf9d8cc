"""The capacity check (healthplatform.ops.capacity): every profile fits its budget with the
later components reserved, and a profile that does not fit makes it exit non-zero."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from healthplatform.ops import capacity
from healthplatform_deploy import kube
from tests.deploy.test_charts import tools

pytestmark = pytest.mark.deploy

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "charts"
PROFILES = ("always-free", "legacy-free", "paid-small")


@pytest.fixture(autouse=True)
def _helm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HP_HELM4", tools()["HELM4"])


@pytest.mark.parametrize(
    ("size", "billed"),
    [("10Gi", 50), ("5Gi", 50), ("50G", 50), ("50Gi", 54), ("60G", 60), ("100Gi", 108)],
)
def test_volumes_are_billed_in_whole_gb_of_at_least_50(size: str, billed: int) -> None:
    assert capacity.billed_volume_gb(size, 50) == billed


def test_quantities() -> None:
    assert capacity.cpu_millicores("50m") == 50
    assert capacity.cpu_millicores("1") == 1000
    assert capacity.cpu_millicores("0.25") == 250
    assert capacity.memory_mib("256Mi") == 256
    assert capacity.memory_mib("1Gi") == 1024
    assert capacity.memory_mib("512M") == 489
    with pytest.raises(ValueError, match="quantity"):
        capacity.quantity_bytes("lots")


def test_node_reserve_estimate() -> None:
    assert capacity.node_reserved(1000, 6144) == (60, 1534)
    cpu_small, mem_small = capacity.node_reserved(1000, 6144)
    cpu_big, mem_big = capacity.node_reserved(2000, 16384)
    assert cpu_big > cpu_small and mem_big > mem_small


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_fits(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main(profile, kube.CHARTS_DIR) == 0
    out = capsys.readouterr().out
    assert f"FITS: profile {profile!r}" in out
    assert "OKE" in out and "observability (#8)" in out and "platform" in out


def test_always_free_budget_in_detail() -> None:
    report = capacity.report_for("always-free", kube.CHARTS_DIR)
    assert report.fits, report.problems
    assert len(report.nodes) == 2
    assert report.boot_gb == 100
    assert sorted(v.billed_gb for v in report.volumes) == [50, 50]  # the two databases only
    assert report.boot_gb + sum(v.billed_gb for v in report.volumes) <= 200
    assert report.load_balancers == 1 and report.bandwidth_mbps == 10
    assert sum(report.object_storage.values()) <= 20
    owners = {p.owner for p in report.pods}
    assert {"OKE", "operators (#6)", "observability (#8)", "security (#9)"} <= owners
    assert {"gitops (#10)", "backups (#11)", "platform"} <= owners
    # Peak: both autoscalers at their maximum, hooks running.
    names = {p.name for p in report.pods}
    assert "Deployment/healthplatform-api#2" in names
    assert "Deployment/healthplatform-etl-worker#2" in names
    assert "Job/healthplatform-migrate-health" in names
    # Headroom stays free on every node.
    for node in report.nodes:
        assert node.used("cpu_request") <= node.cpu
        assert node.used("memory_request") <= node.memory


def test_profile_over_budget_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    charts = tmp_path / "charts"
    shutil.copytree(kube.CHARTS_DIR, charts)
    (tmp_path / "profiles").mkdir()
    shutil.copy(FIXTURES / "profile-over-budget.yaml", tmp_path / "profiles" / "over-budget.yaml")
    assert capacity.main("over-budget", charts) == 1
    out = capsys.readouterr().out
    assert "DOES NOT FIT" in out
    assert "block storage 100 GB boot + 150 GB volumes = 250 GB > 200 GB" in out
    assert "object storage budgets 24 GB > 20 GB" in out
    assert "load balancer bandwidth 100 Mbps > 10 Mbps" in out
    assert "fits on no node" in out


def test_unknown_profile_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main("no-such-profile", kube.CHARTS_DIR) == 2
    assert "no profile 'no-such-profile'" in capsys.readouterr().err


def test_reservations_are_documented() -> None:
    text = (kube.REPO_ROOT / "docs" / "deploy.md").read_text()
    for reservation in capacity.RESERVATIONS:
        assert reservation.component in text, reservation.component
