"""checkov over the Kubernetes side (scripts/checkov-k8s.sh): every profile's render, the
Helm chart and the Dockerfile pass; a privileged pod fails; every skipped check is
justified in docs/security.md. (Terraform: tests/deploy/test_terraform.py.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.test_charts import REPO

pytestmark = pytest.mark.deploy

SCRIPT = REPO / "scripts" / "checkov-k8s.sh"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "security"


def checkov(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_checkov_passes_on_render_chart_and_dockerfile() -> None:
    result = checkov()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for section in ("kubernetes scan results", "helm scan results", "dockerfile scan results"):
        assert section in output, output
    passed = [int(n) for n in re.findall(r"Passed checks: (\d+)", output)]
    assert len(passed) == 3 and min(passed) > 20, output


def test_checkov_fails_on_a_privileged_pod() -> None:
    result = checkov(str(FIXTURES / "checkov-privileged"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CKV_K8S_16" in result.stdout


def skipped_checks() -> list[str]:
    text = (REPO / ".checkov-k8s.yaml").read_text()
    return re.findall(r"^\s*-\s*(CKV2?_[A-Z0-9_]+)", text, re.MULTILINE)


def accepted_section() -> str:
    text = (REPO / "docs" / "security.md").read_text()
    return text.split("## Accepted checkov findings", 1)[-1].split("\n## ", 1)[0]


def test_every_skipped_check_is_justified() -> None:
    skips = skipped_checks()
    assert skips
    section = accepted_section()
    rows = {
        check: line
        for line in section.splitlines()
        for check in re.findall(r"CKV2?_[A-Z0-9_]+", line)
    }
    missing = [check for check in skips if check not in rows]
    assert not missing, f"skipped in .checkov-k8s.yaml but not justified in docs: {missing}"
    for check in skips:  # a justification, not just the id
        assert len(rows[check].split("|")[-2].strip()) > 30, rows[check]
