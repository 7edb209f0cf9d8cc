"""Render the GitOps path exactly as Argo CD renders it, against the real upstream charts.

Every Application of an environment (`kubectl kustomize deploy/argocd/envs/<env>`, as the
root Application renders it) is rendered source by source:

* an external Helm chart: the package ``<chart>-<targetRevision>.tgz`` from the upstream
  charts folder (:func:`upstream_dir`: ``HP_UPSTREAM_CHARTS``, default
  ``../shared/upstream-charts`` next to the repository), with the Application's valueFiles
  (``$values/...`` resolved in this repository), valuesObject/values and parameters, its
  release name and namespace, ``--kube-version`` :data:`KUBE_VERSION`, ``--include-crds`` and
  ``--api-versions`` of the CRD groups installed by earlier sync waves (:data:`API_VERSIONS`);
* a chart of this repository: the same, from its folder;
* a kustomization of this repository: ``kubectl kustomize``; the remote Argo CD core install
  is replaced by the same file from the upstream charts folder
  (``argo-cd-v3.5.1-core-install.yaml``), so the bootstrap renders with its real workloads;
* a plain directory: its YAML files.

Rendering is cached per process (:func:`render_environment`), so a test session renders
each chart once. Tools: Helm 4 and kubectl from ``scripts/ensure-k8s-tools.sh`` (or
``HP_HELM4`` / ``HP_KUBECTL``).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from healthplatform_deploy.kube import KUBE_VERSION as KUBE_VERSION  # re-exported
from healthplatform_deploy.kube import REPO_ROOT as REPO_ROOT
from healthplatform_deploy.kube import Doc, name_of

ARGOCD_DIR = REPO_ROOT / "deploy" / "argocd"
TOOLS_DIR = REPO_ROOT / ".cache" / "k8s-tools"
REPO_URL = "https://github.com/healthplatform/healthplatform.git"
CHARTS_ENV = "HP_UPSTREAM_CHARTS"
WAVE = "argocd.argoproj.io/sync-wave"
# The remote resource of deploy/argocd/bootstrap/argocd and its copy in the charts folder.
ARGOCD_MANIFEST = re.compile(
    r"^https://raw\.githubusercontent\.com/argoproj/argo-cd/[0-9a-f]{40}/manifests/"
    r"core-install\.yaml$"
)
ARGOCD_CORE_INSTALL = "argo-cd-v3.5.1-core-install.yaml"
# Remote kustomize resources of this repository -> their copy in the upstream charts folder.
REMOTE_COPIES: dict[re.Pattern[str], str] = {
    ARGOCD_MANIFEST: ARGOCD_CORE_INSTALL,
    re.compile(
        r"^https://raw\.githubusercontent\.com/projectcalico/calico/v3\.32\.1/manifests/"
        r"calico-policy-only\.yaml$"
    ): "calico-v3.32.1-policy-only.yaml",
}
# CRD API versions an earlier sync wave installs (Helm's `.Capabilities.APIVersions`).
# tests/deploy/test_render.py checks that each is served by a CRD of the rendered path.
API_VERSIONS = (
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1alpha1",
    "cert-manager.io/v1",
    "gateway.networking.k8s.io/v1",
    "postgresql.cnpg.io/v1",
    "barmancloud.cnpg.io/v1",
    "bitnami.com/v1alpha1",
    "keda.sh/v1alpha1",
    "velero.io/v1",
    "gateway.envoyproxy.io/v1alpha1",
)
HOW_TO_GET_CHARTS = (
    "The pinned upstream charts are not in {path}. Point {env} at a folder holding them "
    "(the packages listed in docs/gitops.md, e.g. `helm pull <repo>/<chart> --version <v>` "
    "for each, plus {argocd} from argoproj/argo-cd), or run the fetch script named in "
    "README.md."
)


class RenderError(RuntimeError):
    """A source that cannot be rendered (the message says which and why)."""


class ChartsMissingError(RenderError):
    """The upstream charts folder (or one package in it) is absent."""


def upstream_dir() -> Path:
    return Path(os.environ.get(CHARTS_ENV) or REPO_ROOT.parent / "shared" / "upstream-charts")


def require_upstream_dir() -> Path:
    path = upstream_dir()
    if not path.is_dir():
        raise ChartsMissingError(
            HOW_TO_GET_CHARTS.format(path=path, env=CHARTS_ENV, argocd=ARGOCD_CORE_INSTALL)
        )
    return path


def _tool(env: str, relative: str) -> str:
    path = os.environ.get(env) or str(TOOLS_DIR / relative)
    if not Path(path).is_file():
        raise RenderError(f"{path} missing: run scripts/ensure-k8s-tools.sh or set {env}")
    return path


def helm() -> str:
    return _tool("HP_HELM4", "helm4/helm")


def kubectl() -> str:
    return _tool("HP_KUBECTL", "helm4/kubectl")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The C safe loader; a bare `=` (YAML 1.1's value tag, in some CRD enums) is text."""


_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def parse_documents(text: str) -> list[Doc]:
    """The objects of a multi-document YAML stream; a `kind: List` is unwrapped, as Argo CD
    and kubectl apply its items."""
    out: list[Doc] = []
    for doc in yaml.load_all(text, Loader=_Loader):
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        if str(doc["kind"]).endswith("List") and isinstance(doc.get("items"), list):
            out += [i for i in doc["items"] if isinstance(i, dict) and i.get("kind")]
        else:
            out.append(doc)
    return out


def _run(command: Sequence[str], what: str, cwd: Path | None = None) -> str:
    result = subprocess.run(  # noqa: S603 (argv of fixed tools, no shell)
        list(command), capture_output=True, text=True, timeout=300, check=False, cwd=cwd
    )
    if result.returncode != 0:
        raise RenderError(f"{what} failed:\n{result.stderr[-3000:]}")
    return result.stdout


# --- Applications -----------------------------------------------------------------------------


def sources(app: Doc) -> list[Doc]:
    spec = app.get("spec", {})
    return list(spec.get("sources") or ([spec["source"]] if spec.get("source") else []))


def wave_of(doc: Doc) -> int:
    return int((doc.get("metadata", {}).get("annotations") or {}).get(WAVE, 0))


def package_name(source: Doc) -> str:
    """The package file of an external chart source: <chart>-<targetRevision>.tgz."""
    chart = source.get("chart") or str(source["repoURL"]).rstrip("/").rsplit("/", 1)[-1]
    return f"{chart}-{source['targetRevision']}.tgz"


def value_file(app: Doc, source: Doc, entry: str) -> Path:
    if entry.startswith("$"):
        ref, _, rest = entry[1:].partition("/")
        owner = next((s for s in sources(app) if s.get("ref") == ref), None)
        if owner is None or owner.get("repoURL") != REPO_URL:
            raise RenderError(f"{name_of(app)}: {entry}: no source of this repository is {ref}")
        path = REPO_ROOT / rest
    else:
        path = REPO_ROOT / str(source.get("path", "")) / entry
    if not path.is_file():
        raise RenderError(f"{name_of(app)}: values file {entry} does not exist")
    return path.resolve()


def _nested(keys: list[str], value: Any) -> dict[str, Any]:
    return {keys[0]: value if len(keys) == 1 else _nested(keys[1:], value)}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class HelmInput:
    """What Argo CD hands Helm for one source: values files, inline values, --set pairs."""

    files: list[Path]
    inline: dict[str, Any]
    sets: dict[str, str]
    strings: frozenset[str] = frozenset()  # parameters with forceString: --set-string

    def user_values(self) -> dict[str, Any]:
        """Every value we set, merged in Helm's order (files, inline, parameters)."""
        merged: dict[str, Any] = {}
        for path in self.files:
            merged = deep_merge(merged, yaml.safe_load(path.read_text()) or {})
        merged = deep_merge(merged, self.inline)
        for key, value in self.sets.items():
            merged = deep_merge(merged, _nested(key.split("."), value))
        return merged


def helm_input(app: Doc, source: Doc) -> HelmInput:
    spec = source.get("helm") or {}
    files = [value_file(app, source, e) for e in spec.get("valueFiles") or []]
    inline = spec.get("valuesObject") or yaml.safe_load(spec.get("values") or "{}") or {}
    parameters = spec.get("parameters") or []
    sets = {str(p["name"]): str(p["value"]) for p in parameters}
    strings = frozenset(str(p["name"]) for p in parameters if p.get("forceString"))
    return HelmInput(files, dict(inline), sets, strings)


@dataclass
class SourceRender:
    """One rendered source of an Application."""

    app: str
    namespace: str
    wave: int
    kind: str  # "upstream", "chart", "kustomize", "directory"
    docs: list[Doc] = field(default_factory=list)
    chart: Path | None = None  # the package or folder of a Helm source
    values: HelmInput | None = None
    command: list[str] = field(default_factory=list)
    folder: Path | None = None  # the repository folder of a source of this repository


def helm_template(
    chart: Path, release: str, namespace: str, given: HelmInput
) -> tuple[list[Doc], list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        inline = Path(tmp) / "values-inline.yaml"
        inline.write_text(yaml.safe_dump(given.inline))
        command = [helm(), "template", release, str(chart), "-n", namespace]
        command += ["--kube-version", KUBE_VERSION, "--include-crds"]
        for api in API_VERSIONS:
            command += ["--api-versions", api]
        for path in given.files:
            command += ["-f", str(path)]
        command += ["-f", str(inline)]
        for key, value in given.sets.items():
            flag = "--set-string" if key in given.strings else "--set"
            command += [flag, f"{key}={value}"]
        text = _run(command, f"helm template {release} {chart.name}")
    return parse_documents(text), command


def kustomize(folder: Path) -> list[Doc]:
    """`kubectl kustomize`, the remote Argo CD core install replaced by the local copy."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text()) or {}
    remote = [r for r in kustomization.get("resources") or [] if "://" in str(r)]
    if not remote:
        return parse_documents(_run([kubectl(), "kustomize", str(folder)], f"kustomize {folder}"))
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy)
        resources = []
        for entry in kustomization.get("resources") or []:
            if "://" not in str(entry):
                resources.append(entry)
                continue
            name = next((f for p, f in REMOTE_COPIES.items() if p.match(str(entry))), None)
            if name is None:
                raise RenderError(f"{folder}: no local copy of the remote resource {entry}")
            local = require_upstream_dir() / name
            if not local.is_file():
                raise ChartsMissingError(f"{local} missing ({CHARTS_ENV})")
            shutil.copy(local, copy / name)
            resources.append(name)
        kustomization["resources"] = resources
        (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        return parse_documents(_run([kubectl(), "kustomize", str(copy)], f"kustomize {folder}"))


def render_source(app: Doc, index: int) -> SourceRender | None:
    """One source of an Application rendered; None for a values-only (`ref`) source."""
    source = sources(app)[index]
    if "ref" in source and "path" not in source:
        return None
    name = name_of(app)
    namespace = str(app["spec"]["destination"].get("namespace", "default"))
    out = SourceRender(name, namespace, wave_of(app), "upstream")
    release = str((source.get("helm") or {}).get("releaseName") or name)
    if source.get("repoURL") != REPO_URL:
        package = require_upstream_dir() / package_name(source)
        if not package.is_file():
            raise ChartsMissingError(f"{name}: {package} missing ({CHARTS_ENV})")
        out.chart, out.values = package, helm_input(app, source)
        out.docs, out.command = helm_template(package, release, namespace, out.values)
        for doc in out.docs:
            meta = doc.setdefault("metadata", {})
            meta["namespace"] = meta.get("namespace") or namespace
        return out
    folder = REPO_ROOT / str(source.get("path", ""))
    if (folder / "Chart.yaml").is_file():
        out.kind, out.chart, out.values = "chart", folder, helm_input(app, source)
        out.docs, out.command = helm_template(folder, release, namespace, out.values)
    elif (folder / "kustomization.yaml").is_file():
        out.kind, out.docs = "kustomize", kustomize(folder)
    else:
        out.kind = "directory"
        for path in sorted(folder.glob("*.y*ml")):
            out.docs += parse_documents(path.read_text())
    out.folder = folder
    for doc in out.docs:  # Argo CD applies namespaced objects into the destination
        meta = doc.setdefault("metadata", {})
        meta["namespace"] = meta.get("namespace") or namespace
    return out


@functools.cache
def applications(env: str) -> tuple[Doc, ...]:
    text = _run([kubectl(), "kustomize", str(ARGOCD_DIR / "envs" / env)], f"kustomize {env}")
    return tuple(d for d in parse_documents(text) if d["kind"] == "Application")


@functools.cache
def render_environment(env: str) -> tuple[SourceRender, ...]:
    """Every source of every Application of the environment, rendered once per process."""
    jobs = [(app, i) for app in applications(env) for i in range(len(sources(app)))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda job: render_source(*job), jobs))
    return tuple(r for r in done if r is not None)


def all_docs(renders: Iterable[SourceRender]) -> list[Doc]:
    return [d for r in renders for d in r.docs]
