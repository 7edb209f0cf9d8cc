"""docs/deploy.md, "From zero to a green Argo CD sync": everything it names exists.

* every repository path in the section exists, or is written by one of its commands
  (a `cp` destination or a `>` redirection) and is git-ignored or committed by a later step;
* every command in its ``sh`` blocks (pipelines and ``$(...)`` split apart) is a tool the
  prerequisites list; ``healthplatform-deploy`` command lines parse with the real CLI
  (commands, options, choices); ``terraform -chdir`` folders exist, ``output -raw X`` names an
  output, ``-var X=`` a variable of that configuration; ``kubectl apply -k/-f`` targets exist;
  ``make`` targets exist in the Makefile;
* the secret table lists every Secret the install needs exactly once: the chart's
  ``secrets.*``, every ``existingSecret`` in the GitOps values (Velero, Grafana), and nothing
  twice in the whole document.

The last tests break the document on purpose and the checker must name each break.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml

from healthplatform_deploy import cli as deploy_cli
from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import secrets as deploy_secrets
from healthplatform_deploy.backup_schedules import cli_problem
from healthplatform_deploy.kube import CHARTS_DIR, PROFILES_DIR, REPO_ROOT
from tests.deploy.test_terraform_schema import parse

pytestmark = pytest.mark.deploy

DOC = REPO_ROOT / "docs" / "deploy.md"
SECTION = "## From zero to a green Argo CD sync"
SHELL_BUILTINS = frozenset({"cd", "export", "printf", "echo", "cp"})
PATH_TOKEN = re.compile(
    r"(?<![\w./-])((?:deploy|docs|scripts|src|tests|\.github|\.ci)/[\w./-]*\w/?)"
)
SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")


def section(text: str) -> str:
    start = text.index(SECTION)
    rest = text[start + len(SECTION) :]
    end = re.search(r"^## ", rest, re.M)
    return rest[: end.start()] if end else rest


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)


def command_lines(text: str) -> Iterator[str]:
    """Every simple command of every sh block: continuation lines joined, comments dropped,
    ``$(...)`` substitutions yielded on their own, pipelines and lists split."""
    for block in sh_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            yield from SUBSTITUTION.findall(line)
            line = SUBSTITUTION.sub("VALUE", line)
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words: list[str] = []
            redirect = False
            for token in [*lexer, "|"]:
                if redirect:  # the file of a redirection is not an argument
                    redirect = False
                elif token in (">", ">>", "<"):
                    redirect = True
                elif token in ("|", "||", "&&", ";"):
                    if words:
                        yield shlex.join(words)
                    words = []
                else:
                    words.append(token)


def redirect_targets(text: str) -> set[str]:
    code = "\n".join(sh_blocks(text))
    targets = set(re.findall(r"(?<![>&])>\s*(\S+)", code))
    targets |= set(re.findall(r"^cp \S+ (\S+)$", code, re.M))
    return {t.strip("\"'") for t in targets}


def listed_tools(text: str) -> set[str]:
    prerequisites = text.split("### 1. Prerequisites", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"`([a-z][\w-]*)`", prerequisites)) | {"healthplatform-deploy"}


def terraform_names(directory: Path, kind: str) -> set[str]:
    names: set[str] = set()
    for path in directory.glob("*.tf"):
        for entry in parse(path).get(kind) or []:
            names |= {k for k in entry if not k.startswith("__")}
    return names


def command_problems(words: list[str], tools: set[str], created: set[str]) -> list[str]:
    tool, args = words[0], words[1:]
    where = f"`{shlex.join(words)}`"
    if tool == "VALUE" or tool in SHELL_BUILTINS:
        return []
    if tool not in tools:
        return [f"{where}: {tool} is not among the prerequisites"]
    if tool == "healthplatform-deploy":
        args = [a for a in args if a != "VALUE"]
        if args == ["--help"]:
            return []
        root = typer.main.get_command(deploy_cli.app)
        problem = cli_problem(args, root)
        return [f"{where}: {problem}"] if problem else []
    if tool == "terraform":
        return terraform_problems(where, args)
    if tool == "kubectl" and args[:1] == ["apply"]:
        for flag, target in itertools.pairwise(args):
            if flag in ("-k", "-f") and not (REPO_ROOT / target).exists():
                return [f"{where}: {target} does not exist"]
    if tool == "make":
        targets = set(re.findall(r"^([a-z-]+):", (REPO_ROOT / "Makefile").read_text(), re.M))
        return [f"{where}: no make target {t}" for t in args if t not in targets]
    if tool == "cp" and not (REPO_ROOT / args[0]).exists():
        return [f"{where}: {args[0]} does not exist"]
    return []


def terraform_problems(where: str, args: list[str]) -> list[str]:
    chdir = next((a.split("=", 1)[1] for a in args if a.startswith("-chdir=")), None)
    if chdir is None:
        return [f"{where}: give -chdir= so the command runs from the repository root"]
    directory = REPO_ROOT / chdir
    if not directory.is_dir():
        return [f"{where}: {chdir} does not exist"]
    problems = []
    rest = [a for a in args if not a.startswith("-chdir=")]
    if rest[:2] == ["output", "-raw"] and rest[2] not in terraform_names(directory, "output"):
        problems.append(f"{where}: {chdir} has no output {rest[2]}")
    for flag, value in itertools.pairwise(rest):
        if flag == "-var" and value.split("=", 1)[0] not in terraform_names(directory, "variable"):
            problems.append(f"{where}: {chdir} has no variable {value.split('=', 1)[0]}")
    if rest and rest[0] not in ("init", "plan", "apply", "destroy", "output"):
        problems.append(f"{where}: unexpected terraform command {rest[0]}")
    return problems


def path_problems(text: str, created: set[str]) -> list[str]:
    problems = []
    for path in sorted(set(PATH_TOKEN.findall(text))):
        clean = path.rstrip("/.")
        if (REPO_ROOT / clean).exists() or clean in created:
            continue
        problems.append(f"{clean}: named in the walkthrough, not in the repository")
    return problems


def table_secrets(text: str) -> list[str]:
    """Secret names in the first column of every Markdown table row that has a Namespace or
    Keys column, over the whole document."""
    names: list[str] = []
    for row in re.findall(r"^\|\s*(`[^|]*`)\s*\|", text, re.M):
        names += re.findall(r"`([a-z0-9.-]+)`", row)
    return names


def needed_secrets() -> set[str]:
    values = helm_chart.merged_values(
        CHARTS_DIR / "healthplatform", [PROFILES_DIR / "always-free.yaml"]
    )
    needed = {s.name for s in deploy_secrets.expected_secrets(values)}
    for root in (REPO_ROOT / "deploy" / "argocd", REPO_ROOT / "deploy" / "observability"):
        for path in root.rglob("*.yaml"):
            if "templates" in path.parts:  # Helm templates, not values
                continue
            for doc in yaml.safe_load_all(path.read_text()):
                needed |= set(existing_secrets(doc))
    return needed


def existing_secrets(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "existingSecret" and isinstance(value, str) and value:
                yield value
            else:
                yield from existing_secrets(value)
    elif isinstance(node, list):
        for item in node:
            yield from existing_secrets(item)


def secret_problems(doc_text: str, walk: str) -> list[str]:
    in_walk = set(table_secrets(walk))
    problems = [
        f"secret {s} is needed but not in the walkthrough's table"
        for s in sorted(needed_secrets() - in_walk)
    ]
    everywhere = table_secrets(doc_text)
    problems += [
        f"secret {s} is listed {everywhere.count(s)} times in docs/deploy.md"
        for s in sorted(set(everywhere))
        if everywhere.count(s) > 1
    ]
    return problems


def problems_of(doc_text: str) -> list[str]:
    walk = section(doc_text)
    tools = listed_tools(walk)
    created = redirect_targets(walk)
    problems = path_problems(walk, created)
    for line in command_lines(walk):
        problems += command_problems(shlex.split(line), tools, created)
    problems += secret_problems(doc_text, walk)
    return problems


def test_the_walkthrough_names_only_what_exists() -> None:
    text = DOC.read_text()
    walk = section(text)
    assert len(list(command_lines(walk))) > 25
    for step in (
        "Prerequisites",
        "Terraform",
        "kubeconfig",
        "Argo CD bootstrap",
        "Sealed secrets",
        "DNS and TLS",
        "healthy",
        "costs",
        "Teardown",
    ):
        assert step in walk, step
    assert problems_of(text) == []


def test_files_the_walkthrough_creates_stay_out_of_git() -> None:
    """Plain files the commands write (the certificate, the sealing key backup) go outside
    the repository or to git-ignored paths; only the sealed outputs are written into it."""
    walk = section(DOC.read_text())
    ignored = (REPO_ROOT / ".gitignore").read_text()
    for target in redirect_targets(walk):
        if target.startswith(("deploy/", "/", "~/")):
            continue
        assert (
            target.startswith("/dev/")
            or Path(target).name in ignored
            or any(Path(target).match(p.strip()) for p in ignored.splitlines() if p.strip())
        ), f"{target} is not git-ignored"


BREAKS = {
    "missing file": (
        "deploy/argocd/envs/always-free/root.yaml",
        "deploy/argocd/envs/always-free/rot.yaml",
        "rot.yaml",
    ),
    "unknown CLI option": (
        "--format values",
        "--format yaml",
        "healthplatform-deploy secrets seal",
    ),
    "unknown CLI command": ("secrets generate -n", "secrets create -n", "has no command 'create'"),
    "unknown terraform output": (
        "output -raw kubeconfig_command",
        "output -raw kube_config",
        "has no output kube_config",
    ),
    "unknown terraform variable": (
        "-var platform_values_path=",
        "-var values_path=",
        "has no variable values_path",
    ),
    "tool not in the prerequisites": (
        "`kubeseal`, ",
        "",
        "kubeseal is not among the prerequisites",
    ),
    "missing secret": ("| `velero-s3` |", "| `velero-creds` |", "secret velero-s3 is needed"),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_the_check_fails_on_a_broken_walkthrough(case: str) -> None:
    old, new, expected = BREAKS[case]
    text = DOC.read_text()
    assert old in section(text), f"the walkthrough no longer has {old!r}"
    start = text.index(SECTION)
    broken = text[:start] + text[start:].replace(old, new, 1)
    problems = problems_of(broken)
    assert any(expected in p for p in problems), problems


def test_a_secret_listed_twice_is_refused() -> None:
    text = DOC.read_text() + "\n| `healthplatform-rabbitmq` | again |\n"
    assert "secret healthplatform-rabbitmq is listed 2 times in docs/deploy.md" in problems_of(text)
