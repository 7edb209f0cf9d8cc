"""The backup documentation: its Kubernetes snippets are valid custom resources (strict CRD
schemas derived from the pinned charts' CRDs), and every runbook gives commands,
times and the RPO/RTO targets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.support.artifacts import crd_schema_dir

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs/backup.md", *sorted((ROOT / "docs/runbooks").glob("*.md"))]
RUNBOOKS = [
    "database-corruption",
    "lost-namespace",
    "lost-cluster",
    "lost-sealing-key",
    "region-loss",
]
_FENCE = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)


def _schemas() -> Path:
    return crd_schema_dir()


def _resources() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for doc in DOCS:
        for block in _FENCE.findall(doc.read_text()):
            body = yaml.safe_load(block)
            if isinstance(body, dict) and "/" in str(body.get("apiVersion", "")):
                found.append((f"{doc.name}: {body['kind']} {body['metadata']['name']}", body))
    return found


def test_custom_resources_in_the_docs_are_valid() -> None:
    resources = _resources()
    kinds = {body["kind"] for _, body in resources}
    assert {"ObjectStore", "Cluster", "ScheduledBackup", "Schedule", "PrometheusRule"} <= kinds
    for name, body in resources:
        group, _, version = body["apiVersion"].rpartition("/")
        schema_file = _schemas() / group / f"{body['kind'].lower()}_{version}.json"
        schema = json.loads(schema_file.read_text())
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in Draft202012Validator(schema).iter_errors(body)
        ]
        assert not errors, f"{name}: {errors}"


def test_recovery_snippets_meet_the_rpo() -> None:
    clusters = [b for _, b in _resources() if b["kind"] == "Cluster" and "plugins" in b["spec"]]
    assert clusters
    for cluster in clusters:
        assert cluster["spec"]["postgresql"]["parameters"]["archive_timeout"] == "5min"
        assert cluster["spec"]["plugins"][0]["isWALArchiver"] is True
    recovery = [c for c in clusters if "recovery" in c["spec"].get("bootstrap", {})]
    assert recovery and recovery[0]["spec"]["bootstrap"]["recovery"]["recoveryTarget"]
    origin = recovery[0]["spec"]["externalClusters"][0]["plugin"]["parameters"]["serverName"]
    assert recovery[0]["spec"]["plugins"][0]["parameters"]["serverName"] != origin


@pytest.mark.parametrize("name", RUNBOOKS)
def test_runbooks_give_commands_times_and_targets(name: str) -> None:
    text = (ROOT / "docs/runbooks" / f"{name}.md").read_text()
    assert "RPO" in text and "RTO" in text
    assert "```sh" in text, "commands"
    assert re.search(r"\d+(-\d+)? (min|h)\b", text), "expected times"
    assert "estimated" in text, "how the times were estimated"
    assert f"({name}.md)" in (ROOT / "docs/runbooks/README.md").read_text()


def test_docs_name_what_the_image_needs() -> None:
    text = (ROOT / "docs/backup.md").read_text()
    assert "postgresql-client" in text
    for command in ("backup create", "backup verify", "backup restore", "reprocess"):
        assert command in text


def test_alert_rules_fire_when_backups_stop(tmp_path: Path) -> None:
    """promtool (Debian package `prometheus`) checks the rules and runs them on series."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: apt-get install prometheus (it ships promtool)")
    [rule] = [b for _, b in _resources() if b["kind"] == "PrometheusRule"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule["spec"]))
    cases = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # health: last success at t=0, never again; auth: all the time
                    {
                        "series": 'hp_backup_last_success_timestamp_seconds{database="health"}',
                        "values": "0x1800",
                    },
                    {
                        "series": 'hp_backup_last_success_timestamp_seconds{database="auth"}',
                        "values": "0+60x1800",
                    },
                    {
                        "series": 'hp_backup_last_verify_ok{database="health"}',
                        "values": "1x120 0x1700",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "25h",
                        "alertname": "HealthplatformBackupMissing",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "28h",
                        "alertname": "HealthplatformBackupMissing",
                        "exp_alerts": [
                            {
                                "exp_labels": {"database": "health", "severity": "critical"},
                                "exp_annotations": {
                                    "summary": "No successful health backup for 26 h "
                                    "(docs/runbooks/database-corruption.md)"
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "4h",
                        "alertname": "HealthplatformBackupVerifyFailed",
                        "exp_alerts": [
                            {
                                "exp_labels": {"database": "health", "severity": "critical"},
                                "exp_annotations": {
                                    "summary": "The last restore test of the health backup "
                                    "failed (healthplatform backup status)"
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(cases))
    for args in (["check", "rules", "rules.yaml"], ["test", "rules", "tests.yaml"]):
        done = subprocess.run(
            [promtool, *args], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
