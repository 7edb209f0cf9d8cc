"""Every check of test_workflows.py fails on a deliberately broken workflow.

test_workflows.py runs the checks on .github/workflows, where they must pass; here each
fixture in tests/deploy/fixtures/gitops/workflows/ breaks one rule and the check must name
the breakage (the previous attempt compared its dry-run flag as a string and always
deployed; the March 2026 trivy-action tag hijack is why tags are not pins).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy import test_workflows as w

pytestmark = pytest.mark.deploy

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gitops" / "workflows"

CASES: dict[str, tuple[Callable[[Path], list[str]], tuple[str, ...]]] = {
    "schema-invalid": (
        lambda path: w.check_schema([path]),
        ("schema-invalid.yml", "runs-on"),
    ),
    "unpinned-action": (
        w.check_pinned,
        (
            "unpinned-action.yml:10: actions/checkout@v7 is not pinned by a 40-hex commit SHA",
            "aquasecurity/trivy-action@master is not pinned",
            "actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae has no `# vX.Y.Z`",
            "docker://alpine:3.22 is not pinned by digest",
        ),
    ),
    "missing-permissions": (
        lambda path: w.check_permissions(w.load(path), path.name),
        (
            "missing-permissions.yml: no workflow-level permissions",
            "job build has no permissions block",
            "job release permissions 'write-all': list the scopes",
        ),
    ),
    "pull-request-target-checkout": (
        lambda path: w.check_pull_request_target(w.load(path), path.name),
        ("job test uses the pull request's head under pull_request_target",),
    ),
    "string-boolean": (
        lambda path: w.check_boolean_comparisons(w.load(path), path.name),
        (
            "`inputs.dry_run == 'true'` compares input 'dry_run' with a string",
            "`github.event.inputs.dry_run != 'true'` compares input 'dry_run'",
        ),
    ),
    "dry-run-unguarded": (
        lambda path: w.check_dry_run(w.load(path), path.name),
        (
            "input dry_run is not `type: boolean`",
            "changes the cluster ('kubectl apply --server-side -k deploy/argocd/bootstrap/argocd')",
            "no step under `if: ${{ inputs.dry_run }}` runs --dry-run=server",
        ),
    ),
}


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_check_fails_on_broken_workflow(fixture: str) -> None:
    check, expected = CASES[fixture]
    problems = check(FIXTURES / f"{fixture}.yml")
    text = "\n".join(problems)
    assert problems, f"nothing wrong found in {fixture}"
    for substring in expected:
        assert substring in text, f"{substring!r} not in:\n{text}"


def test_every_fixture_is_used() -> None:
    assert {p.stem for p in FIXTURES.glob("*.yml")} == set(CASES)


def test_string_boolean_fixture_is_otherwise_a_valid_dry_run() -> None:
    """A schema-valid workflow: only the comparison rule catches the fault."""
    path = FIXTURES / "string-boolean.yml"
    assert not w.check_schema([path])
    assert w.check_boolean_comparisons(w.load(path), path.name)
