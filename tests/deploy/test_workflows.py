"""Offline checks of the GitHub Actions workflows in .github/workflows (docs/gitops.md).

* every workflow is valid against the GitHub workflow JSON schema that check-jsonschema
  vendors (scripts/ensure-gitops-tools.sh installs it; nothing is downloaded at test time);
* every action is pinned by a full 40-hex commit SHA with a version comment, and that SHA is
  the one docs/gitops.md records (with where it came from);
* every workflow and every job has a least-privilege `permissions:` block (workflow level
  read-only or empty, write scopes only on the jobs that need them);
* no `pull_request_target` with a checkout of the pull request's code, no boolean input
  compared with a string (`inputs.x == 'true'`);
* deploy.yml: `dry_run` is a boolean input, every step that changes the cluster is guarded by
  `if: ${{ !inputs.dry_run }}`, and a dry-run path (server-side dry run) exists;
* ci.yml runs the README's test command with PostgreSQL/Redis/RabbitMQ service containers
  and caches; images.yml builds amd64+arm64, tags the git SHA, scans, attests, and bumps the
  digest through a pull request (the bump script is exercised on a copy of the values).

test_workflows_rules.py shows each check failing on a broken workflow in
tests/deploy/fixtures/gitops/workflows/.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import kube
from tests.deploy.test_charts import helm
from tests.deploy.test_gitops import ARGOCD, environment, value_file

pytestmark = pytest.mark.deploy

REPO = kube.REPO_ROOT
WORKFLOWS = REPO / ".github" / "workflows"
ENSURE_TOOLS = REPO / "scripts" / "ensure-gitops-tools.sh"
BUMP = REPO / ".github" / "scripts" / "bump_image.py"
Workflow = dict[str, Any]

USES = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<ref>[^\s#]+)$")
SHA = re.compile(r"[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"#\s*(v?\d+(?:\.\d+){1,2})\s*$")
# Scopes a workflow-level block may grant (everything else belongs on a job).
READ_ONLY = frozenset({"read", "none"})
STRING_BOOLEAN = re.compile(
    r"(?:github\.event\.)?inputs\.(?P<name>[\w-]+)\s*[!=]=\s*['\"]?(?:true|false)['\"]?"
    r"|['\"]?(?:true|false)['\"]?\s*[!=]=\s*(?:github\.event\.)?inputs\.(?P<rname>[\w-]+)"
)
# Commands that change a cluster; `--dry-run` on the same command line makes them a check.
MUTATING = re.compile(
    r"\bkubectl\s+(?:[-\w=./\"$]+\s+)*?(?:apply|create|delete|patch|replace|label|annotate|"
    r"scale|set|edit|rollout\s+(?:restart|undo)|drain|cordon|taint)\b"
    r"|\bhelm\s+(?:[-\w=./\"$]+\s+)*?(?:install|upgrade|uninstall|rollback)\b"
    r"|\bargocd\s+(?:app\s+)?(?:sync|rollback|delete|create|set)\b"
)


@functools.cache
def tools() -> dict[str, str]:
    result = subprocess.run(
        ["bash", str(ENSURE_TOOLS)], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/ensure-gitops-tools.sh failed:\n{result.stderr}")
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def load(path: Path) -> Workflow:
    """A workflow as GitHub reads it (YAML 1.1 would turn the `on:` key into True)."""
    doc = yaml.safe_load(path.read_text())
    if True in doc:
        doc["on"] = doc.pop(True)
    return dict(doc)


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def triggers(workflow: Workflow) -> dict[str, Any]:
    on = workflow.get("on")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on or {})


def jobs(workflow: Workflow) -> dict[str, Any]:
    return dict(workflow.get("jobs") or {})


def steps(workflow: Workflow) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in jobs(workflow).items():
        for step in job.get("steps") or []:
            yield job_id, step


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


# --------------------------------------------------------------------------------------
# Checks (each shown failing on a fixture in test_workflows_rules.py)
# --------------------------------------------------------------------------------------


def check_schema(paths: list[Path]) -> list[str]:
    """check-jsonschema with its vendored GitHub workflow schema, offline."""
    result = subprocess.run(
        [
            tools()["CHECK_JSONSCHEMA"],
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return [] if result.returncode == 0 else [result.stdout + result.stderr]


def check_pinned(path: Path) -> list[str]:
    """Every `uses:` is a local action, a docker image by digest, or owner/repo@<40-hex SHA>
    followed by a `# vX.Y.Z` comment."""
    problems: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(?P<value>[^#\s]+)(?P<rest>.*)$", line)
        if not match:
            continue
        value, rest = match["value"].strip("'\""), match["rest"]
        where = f"{path.name}:{number}"
        if value.startswith("./"):
            continue
        if value.startswith("docker://"):
            if "@sha256:" not in value:
                problems.append(f"{where}: {value} is not pinned by digest")
            continue
        uses = USES.match(value)
        if uses is None or not SHA.fullmatch(uses["ref"]):
            problems.append(f"{where}: {value} is not pinned by a 40-hex commit SHA")
        elif not VERSION_COMMENT.search(rest):
            problems.append(f"{where}: {value} has no `# vX.Y.Z` version comment")
    return problems


def pins(path: Path) -> list[tuple[str, str, str]]:
    """(action, sha, version) of every pinned `uses:` line."""
    found = []
    for line in path.read_text().splitlines():
        match = re.search(r"uses:\s*([\w.-]+/[\w.-]+)[\w./-]*@([0-9a-f]{40})\s*#\s*(\S+)", line)
        if match:
            found.append((match[1], match[2], match[3]))
    return found


def check_permissions(workflow: Workflow, name: str) -> list[str]:
    """A `permissions:` block on the workflow (read-only or empty) and on every job; no
    `write-all`/`read-all` shorthands."""
    problems: list[str] = []
    top = workflow.get("permissions")
    if top is None:
        problems.append(f"{name}: no workflow-level permissions")
    elif isinstance(top, str):
        problems.append(f"{name}: workflow permissions {top!r}: list the scopes")
    elif any(str(level) not in READ_ONLY for level in top.values()):
        problems.append(f"{name}: workflow-level permissions grant write: {top}")
    for job_id, job in jobs(workflow).items():
        scopes = job.get("permissions")
        if scopes is None:
            problems.append(f"{name}: job {job_id} has no permissions block")
        elif isinstance(scopes, str):
            problems.append(f"{name}: job {job_id} permissions {scopes!r}: list the scopes")
    return problems


def check_pull_request_target(workflow: Workflow, name: str) -> list[str]:
    """`pull_request_target` runs with the base repository's token and secrets: it must
    never check out or run the pull request's code."""
    if "pull_request_target" not in triggers(workflow):
        return []
    problems = []
    for job_id, step in steps(workflow):
        text = " ".join(strings(step))
        if "github.event.pull_request.head" in text or "github.head_ref" in text:
            problems.append(
                f"{name}: job {job_id} uses the pull request's head under pull_request_target"
            )
    return problems


def boolean_inputs(workflow: Workflow) -> set[str]:
    found = set()
    for trigger in ("workflow_dispatch", "workflow_call"):
        spec = triggers(workflow).get(trigger) or {}
        for input_name, definition in (spec.get("inputs") or {}).items():
            if (definition or {}).get("type") == "boolean":
                found.add(input_name)
    return found


def check_boolean_comparisons(workflow: Workflow, name: str) -> list[str]:
    """Boolean inputs are booleans: `${{ inputs.x }}`, `${{ !inputs.x }}`, never compared
    with 'true'/'false' (a string comparison that silently never matches)."""
    problems = []
    for text in strings(workflow):
        for match in STRING_BOOLEAN.finditer(text):
            problems.append(
                f"{name}: `{match.group(0)}` compares input "
                f"{match['name'] or match['rname']!r} with a string"
            )
    return problems


def guarded_by_dry_run(condition: Any) -> bool:
    return isinstance(condition, str) and bool(
        re.fullmatch(r"\$\{\{\s*!\s*inputs\.dry_run\s*\}\}", condition.strip())
    )


def check_dry_run(workflow: Workflow, name: str) -> list[str]:
    """`dry_run` is a boolean input; every step that changes the cluster runs only when it is
    false; a server-side dry run runs when it is true."""
    problems: list[str] = []
    inputs = (triggers(workflow).get("workflow_dispatch") or {}).get("inputs") or {}
    if (inputs.get("dry_run") or {}).get("type") != "boolean":
        problems.append(f"{name}: input dry_run is not `type: boolean`")
    dry_path = False
    for job_id, step in steps(workflow):
        run = str(step.get("run") or "")
        mutating = [
            line.strip()
            for line in run.splitlines()
            if MUTATING.search(line) and "--dry-run" not in line
        ]
        label = step.get("name") or step.get("uses") or "step"
        if mutating and not guarded_by_dry_run(step.get("if")):
            problems.append(
                f"{name}: job {job_id} step {label!r} changes the cluster ({mutating[0]!r}) "
                "without `if: ${{ !inputs.dry_run }}`"
            )
        condition = str(step.get("if") or "")
        if re.fullmatch(r"\$\{\{\s*inputs\.dry_run\s*\}\}", condition.strip()):
            dry_path = dry_path or "--dry-run=server" in run
    if not dry_path:
        problems.append(
            f"{name}: no step under `if: ${{{{ inputs.dry_run }}}}` runs --dry-run=server"
        )
    return problems


WORKFLOW_CHECKS: dict[str, Callable[[Workflow, str], list[str]]] = {
    "permissions": check_permissions,
    "pull-request-target": check_pull_request_target,
    "boolean-comparisons": check_boolean_comparisons,
}


# --------------------------------------------------------------------------------------
# The real workflows
# --------------------------------------------------------------------------------------


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in workflow_files()} == {"ci.yml", "images.yml", "deploy.yml"}


def test_workflows_are_schema_valid() -> None:
    problems = check_schema(workflow_files())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actions_are_pinned_by_commit(path: Path) -> None:
    problems = check_pinned(path)
    assert not problems, "\n".join(problems)
    assert pins(path), "no actions found"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
@pytest.mark.parametrize("check", sorted(WORKFLOW_CHECKS))
def test_workflow_rules(path: Path, check: str) -> None:
    problems = WORKFLOW_CHECKS[check](load(path), path.name)
    assert not problems, "\n".join(problems)


def test_no_workflow_uses_pull_request_target() -> None:
    assert not any("pull_request_target" in triggers(load(p)) for p in workflow_files())


def test_every_pinned_sha_is_recorded_with_its_source() -> None:
    """docs/gitops.md's table lists each action, version and SHA used, and one action is
    pinned to one SHA everywhere."""
    doc = (REPO / "docs" / "gitops.md").read_text()
    seen: dict[str, tuple[str, str]] = {}
    for path in workflow_files():
        for action, sha, version in pins(path):
            assert seen.setdefault(action, (sha, version)) == (sha, version), action
            row = re.search(
                rf"^\|\s*`{re.escape(action)}`\s*\|\s*`{version}`\s*\|\s*`{sha}`", doc, re.M
            )
            assert row, f"docs/gitops.md has no row `{action}` | `{version}` | `{sha}`"


def test_trivy_action_is_a_release_after_the_tag_hijack() -> None:
    """The March 2026 hijack moved aquasecurity/trivy-action tags; v0.36.0 (2026-04-22) is
    the first release after it, pinned by its commit, with Trivy's version pinned too."""
    found = [
        (sha, v) for a, sha, v in pins(WORKFLOWS / "images.yml") if a == "aquasecurity/trivy-action"
    ]
    assert found == [("ed142fd0673e97e23eac54620cfb913e5ce36c25", "v0.36.0")]
    scan = next(
        s for _, s in steps(load(WORKFLOWS / "images.yml")) if "trivy-action" in str(s.get("uses"))
    )
    assert re.fullmatch(r"v\d+\.\d+\.\d+", scan["with"]["version"])
    assert scan["with"]["exit-code"] == "1"


def test_deploy_workflow_dry_run_is_real_and_guards_every_change() -> None:
    workflow = load(WORKFLOWS / "deploy.yml")
    assert not check_dry_run(workflow, "deploy.yml")
    dispatch = triggers(workflow)["workflow_dispatch"]["inputs"]
    assert dispatch["dry_run"]["default"] is True
    assert set(dispatch["environment"]["options"]) == {
        p.name for p in (REPO / "deploy" / "argocd" / "envs").iterdir() if p.is_dir()
    }
    guarded = [s for _, s in steps(workflow) if guarded_by_dry_run(s.get("if"))]
    assert any("kubectl apply --server-side --force-conflicts" in s["run"] for s in guarded)
    assert any("root.yaml" in s["run"] for s in guarded)


def test_ci_runs_the_readme_test_command_with_services_and_caches() -> None:
    workflow = load(WORKFLOWS / "ci.yml")
    assert {"pull_request", "push"} <= set(triggers(workflow))
    assert triggers(workflow)["push"]["branches"] == ["main"]
    job = jobs(workflow)["test"]
    runs = [str(s.get("run")) for s in job["steps"]]
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make test" in runs
    services = job["services"]
    assert services["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    ports = {name: service["ports"] for name, service in services.items()}
    assert ports == {"postgres": ["5432:5432"], "redis": ["6379:6379"], "rabbitmq": ["5672:5672"]}
    uses = {str(s.get("uses", "")).split("@")[0]: s for s in job["steps"] if s.get("uses")}
    assert uses["actions/setup-python"]["with"]["cache"] == "pip"
    assert uses["actions/setup-node"]["with"]["cache"] == "npm"
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"


def test_images_workflow_builds_scans_attests_and_opens_the_deploy_pr() -> None:
    workflow = load(WORKFLOWS / "images.yml")
    build, pr = jobs(workflow)["build"], jobs(workflow)["deploy-pr"]
    by_action = {str(s.get("uses", "")).split("@")[0]: s for s in build["steps"]}
    push = by_action["docker/build-push-action"]["with"]
    assert set(push["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert push["push"] is True
    assert by_action["docker/metadata-action"]["with"]["tags"] == "type=sha,format=long,prefix="
    assert "docker/setup-qemu-action" in by_action and "docker/setup-buildx-action" in by_action
    assert by_action["docker/login-action"]["with"]["registry"] == "ghcr.io"
    attest = by_action["actions/attest-build-provenance"]["with"]
    assert attest["subject-digest"] == "${{ steps.build.outputs.digest }}"
    assert build["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    }
    assert pr["needs"] == "build"
    assert pr["permissions"] == {"contents": "write", "pull-requests": "write"}
    cpr = next(s for s in pr["steps"] if "create-pull-request" in str(s.get("uses")))
    assert cpr["with"]["add-paths"] == "deploy/argocd/envs/*/image.yaml"
    bump = next(s for s in pr["steps"] if "bump_image.py" in str(s.get("run")))
    assert "deploy/argocd/envs/*/image.yaml" in bump["run"]


def test_bump_script_sets_the_digest_the_platform_chart_renders(tmp_path: Path) -> None:

    digest = "sha256:" + "ab" * 32
    sha = "0123456789abcdef0123456789abcdef01234567"
    source = ARGOCD / "envs" / "always-free" / "image.yaml"
    copy = tmp_path / "image.yaml"
    copy.write_text(source.read_text())
    result = subprocess.run(
        [
            sys.executable,
            str(BUMP),
            "--image",
            "ghcr.io/acme/health",
            "--tag",
            sha,
            "--digest",
            digest,
            str(copy),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = copy.read_text()
    assert text.splitlines()[0] == source.read_text().splitlines()[0]  # comments kept
    assert yaml.safe_load(text)["image"] == {
        "registry": "ghcr.io",
        "repository": "acme/health",
        "tag": sha,
        "digest": digest,
    }
    # The chart renders that digest when the Application's values files include it.
    app = next(a for a in environment("always-free").apps if kube.name_of(a) == "hp-apps")
    source = app["spec"]["source"]
    resolved = [value_file(app, source, f) for f in source["helm"]["valueFiles"]]
    files = [copy if Path(f).name == "image.yaml" else Path(f) for f in resolved]
    docs = helm_chart.render(REPO / source["path"], files, helm=helm("helm4"))
    api = kube.find(docs, "Deployment", "healthplatform-api")
    assert api is not None
    image = api["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/acme/health:{sha}@{digest}"
    for bad in (["--digest", "sha256:xyz"], ["--tag", "latest"], ["--image", "GHCR.io/A/B"]):
        args = {"--image": "ghcr.io/acme/health", "--tag": sha, "--digest": digest}
        args[bad[0]] = bad[1]
        flat = [item for pair in args.items() for item in pair]
        refused = subprocess.run(
            [sys.executable, str(BUMP), *flat, str(copy)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode == 1, bad
