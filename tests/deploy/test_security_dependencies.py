"""The dependency audit of requirements.lock (scripts/pip-audit.sh) needs PyPI's vulnerability
data, which this sandbox cannot reach, so it runs as its own job in GitHub Actions. These
offline checks make sure that job exists and audits the lock with a pinned pip-audit."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy.test_charts import REPO

pytestmark = pytest.mark.deploy


def test_ci_runs_the_dependency_audit_on_the_lock() -> None:
    workflow = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    runs = [step.get("run", "") for step in steps]
    assert any("scripts/pip-audit.sh requirements.lock" in run for run in runs), runs


def test_pip_audit_is_pinned_and_fails_when_it_cannot_run() -> None:
    script = (REPO / "scripts/pip-audit.sh").read_text()
    assert re.search(r'^PIP_AUDIT_VERSION="\d+\.\d+\.\d+"$', script, re.M)
    assert "exit 4" in script  # service unreachable is a failure, not a pass
