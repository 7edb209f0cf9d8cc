"""The import graph of src/: the deployment checks are a package of their own.

Every ``import`` statement of every module under src/ is read with :mod:`ast` (also the ones
inside functions: a lazy import is still an edge) and resolved to the module it names. The
rules (issue 18, item 6):

* no import cycle between modules anywhere in src/ (the old one was
  cli -> ops.capacity -> ops.manifests -> ops.manifests_backups -> cli);
* no cycle between the packages ``healthplatform.<subpackage>`` and ``healthplatform_deploy``;
* the product's runtime package ``healthplatform`` never imports ``healthplatform_deploy``,
  and ``healthplatform_deploy`` never imports the product's CLI (``healthplatform.cli``);
* no module of ``healthplatform_deploy`` is longer than ~400 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.deploy

SRC = Path(__file__).resolve().parents[2] / "src"
RUNTIME = "healthplatform"
DEPLOY = "healthplatform_deploy"
MAX_LINES = 410


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: Iterable[str], src: Path = SRC) -> set[str]:
    """The modules of ``modules`` that ``path`` imports (``from a import b`` counts as ``a.b``
    when that is a module, else ``a``)."""
    known = set(modules)
    name = module_name(path, src)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import submodule` is an edge to the submodule only (as import-linter
            # counts it), `from pkg import name` one to pkg
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    files = {module_name(p, src): p for p in src.rglob("*.py")}
    return {name: imports_of(path, files, src) for name, path in files.items()}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def package_of(module: str) -> str:
    """``healthplatform.ops.backups.cli`` -> ``healthplatform.ops``; deploy modules -> the
    deploy package; top-level runtime modules (cli, settings, runtime) are their own."""
    parts = module.split(".")
    if parts[0] == DEPLOY:
        return DEPLOY
    return ".".join(parts[:2])


def package_graph(
    graph: Mapping[str, Iterable[str]], skip: Iterable[str] = ()
) -> dict[str, set[str]]:
    skipped = set(skip)
    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if module in skipped:
            continue
        edges = out.setdefault(package_of(module), set())
        edges |= {package_of(t) for t in targets if package_of(t) != package_of(module)}
    return out


def runtime_to_deploy(graph: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    return {
        module: sorted(t for t in targets if t.split(".")[0] == DEPLOY)
        for module, targets in graph.items()
        if module.split(".")[0] == RUNTIME and any(t.split(".")[0] == DEPLOY for t in targets)
    }


GRAPH = import_graph()


def test_no_module_import_cycle_in_src() -> None:
    assert cycles(GRAPH) == []


def test_no_cycle_between_packages() -> None:
    graph = package_graph(GRAPH)
    assert DEPLOY in graph and f"{RUNTIME}.ops" in graph
    deploy_cycles = [c for c in cycles(graph) if DEPLOY in c]
    assert deploy_cycles == []


def test_runtime_never_imports_the_deploy_package() -> None:
    offenders = runtime_to_deploy(GRAPH)
    assert not any(offenders.values()), offenders


def test_deploy_package_never_imports_the_cli() -> None:
    cli = {m for m in GRAPH if m.split(".")[0] == RUNTIME and m.rsplit(".", 1)[-1] == "cli"}
    for module, targets in GRAPH.items():
        if module.split(".")[0] == DEPLOY:
            assert not targets & cli, f"{module} imports {sorted(targets & cli)}"


def test_deploy_modules_are_small() -> None:
    for path in (SRC / DEPLOY).glob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{path.name}: {lines} lines"


def test_the_checks_fail_on_a_cycle_and_on_a_forbidden_import(tmp_path: Path) -> None:
    """The same functions on a tiny src/ with the old cycle and a runtime -> deploy import."""
    files = {
        "healthplatform/__init__.py": "",
        "healthplatform/cli.py": "from healthplatform.ops import capacity\n",
        "healthplatform/ops/__init__.py": "",
        "healthplatform/ops/capacity.py": "from . import manifests\n",
        "healthplatform/ops/manifests.py": "def f():\n    from healthplatform.cli import app\n",
        "healthplatform/api.py": "import healthplatform_deploy.rules\n",
        "healthplatform_deploy/__init__.py": "",
        "healthplatform_deploy/rules.py": "from healthplatform.api import x\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["healthplatform.ops.capacity"] == {"healthplatform.ops.manifests"}
    assert cycles(graph) == [
        ["healthplatform.api", "healthplatform_deploy.rules"],
        ["healthplatform.cli", "healthplatform.ops.capacity", "healthplatform.ops.manifests"],
    ]
    assert runtime_to_deploy(graph) == {"healthplatform.api": ["healthplatform_deploy.rules"]}
    assert ["healthplatform.api", DEPLOY] in cycles(package_graph(graph))
