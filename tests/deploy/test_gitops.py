"""Offline checks of the Argo CD layout in deploy/argocd (docs/gitops.md).

Each environment (deploy/argocd/envs/<env>) is rendered with `kubectl kustomize`, as the
root Application renders it, and then:

* every Application, ApplicationSet and AppProject is validated against the Argo CD CRD
  schemas (tests/artifacts.lock.json, through tests/support/artifacts.py);
* every source is pinned (external charts to an exact version), every repository path and
  values file exists, sources from this repository render (Helm through the render helpers
  of healthplatform_deploy.rules with the Application's own valueFiles/valuesObject,
  kustomize, plain directories) and the values they set exist in the chart's
  values.schema.json; the platform's three layer releases together pass the chart rules;
* each AppProject allows exactly the namespaces, source repositories and cluster-scoped
  kinds its Applications need: derived from the renders of this repository's sources plus
  the `healthplatform.io/cluster-kinds` / `extra-namespaces` annotations of Applications of
  external charts (which cannot be rendered offline);
* sync waves put every operator/CRD provider (`healthplatform.io/provides-crds`) before the
  Applications whose resources use its API group; sync policies are automated with prune,
  selfHeal, retry/backoff, ServerSideApply where CRDs are installed; autoscaled replica
  counts are ignored;
* the Argo CD core install is pinned by commit and sized to the capacity reservation.

test_gitops_rules.py shows every check failing on a broken fixture
(tests/deploy/fixtures/gitops/).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from healthplatform_deploy import capacity, kube, render
from healthplatform_deploy import helm as helm_chart
from tests.deploy.test_charts import crd_problems, helm, is_custom, leaf_paths, tools

pytestmark = pytest.mark.deploy

Doc = kube.Doc
REPO = kube.REPO_ROOT
ARGOCD = REPO / "deploy" / "argocd"
BOOTSTRAP = ARGOCD / "bootstrap" / "argocd"
ENVS = tuple(sorted(p.name for p in (ARGOCD / "envs").iterdir() if p.is_dir()))
REPO_URL = "https://github.com/healthplatform/healthplatform.git"
IN_CLUSTER = "https://kubernetes.default.svc"
# Branches this repository's sources may track (external sources must be exact versions).
REPO_REVISIONS = frozenset({"main"})
EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+")
COMMIT = re.compile(r"[0-9a-f]{40}")
# Applications allowed to sync without prune, and why (also in docs/gitops.md).
NO_PRUNE = {"argocd": "Argo CD must not delete itself after a mistake in its kustomization"}
ANNOTATION = "healthplatform.io/"
WAVE = "argocd.argoproj.io/sync-wave"
# Kinds without a namespace, by API group ("" = core). A rendered kind that is neither here
# nor namespaced by its manifest fails the project check (add it here).
CLUSTER_SCOPED = frozenset(
    {
        ("", "Namespace"),
        ("", "PersistentVolume"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("cert-manager.io", "ClusterIssuer"),
        ("gateway.networking.k8s.io", "GatewayClass"),
        ("keda.sh", "ClusterTriggerAuthentication"),
        ("networking.k8s.io", "IngressClass"),
        ("postgresql.cnpg.io", "ClusterImageCatalog"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "StorageClass"),
    }
)
# Groups of kinds every cluster has: no Application has to provide them.
BUILTIN_GROUP = re.compile(r"^$|^[a-z]+$|\.k8s\.io$")

# What the core install (deploy/argocd/bootstrap/argocd) patches, as in argoproj/argo-cd
# v3.5.1 manifests/core-install.yaml: workload -> (init containers, containers). The render
# replaces the remote manifest with these stand-ins, so a patch that targets a workload or
# container the release does not have fails the kustomize build.
ARGOCD_CORE_WORKLOADS = {
    ("StatefulSet", "argocd-application-controller"): ((), ("argocd-application-controller",)),
    ("Deployment", "argocd-repo-server"): (("copyutil",), ("argocd-repo-server",)),
    ("Deployment", "argocd-redis"): (("secret-init",), ("redis",)),
    ("Deployment", "argocd-applicationset-controller"): ((), ("argocd-applicationset-controller",)),
}
# (cpu m, memory Mi) requests and limits of the core install's workloads (docs/gitops.md,
# "Size"; the repo server's limit is checked against measured peak RSS in test_render.py).
ARGOCD_SIZES = {
    "argocd-application-controller": (25, 192, 500, 384),
    "argocd-repo-server": (10, 96, 300, 384),
    "argocd-redis": (5, 24, 50, 64),
}
CALICO_FILE = "calico-v3.32.1-policy-only.yaml"
ARGOCD_MANIFEST = re.compile(
    r"^https://raw\.githubusercontent\.com/argoproj/argo-cd/([0-9a-f]{40})/manifests/"
    r"core-install\.yaml$"
)


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def kubectl() -> str:
    return tools()["KUBECTL"]


def kustomize(folder: Path) -> list[Doc]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {folder} failed:\n{result.stderr}")
    return helm_chart.parse_documents(result.stdout)


def argocd_core_stub() -> list[Doc]:
    """Stand-ins for the workloads and ConfigMaps of Argo CD's core-install.yaml."""
    docs: list[Doc] = []
    for (kind, name), (inits, containers) in ARGOCD_CORE_WORKLOADS.items():
        spec: Doc = {
            "containers": [
                {"name": c, "image": "quay.io/argoproj/argocd:v3.5.1"} for c in containers
            ]
        }
        if inits:
            spec["initContainers"] = [
                {"name": c, "image": "quay.io/argoproj/argocd:v3.5.1"} for c in inits
            ]
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "metadata": {"name": name},
                "spec": {"template": {"spec": spec}},
            }
        )
    for name in ("argocd-cm", "argocd-cmd-params-cm"):
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    return docs


def calico_policy_only() -> list[Doc]:
    """Calico's policy-only manifest (deploy/argocd/system/calico/install) from the upstream
    charts folder (HP_UPSTREAM_CHARTS), the file the kustomization pins."""
    return render.parse_documents((render.require_upstream_dir() / CALICO_FILE).read_text())


REMOTE_STUBS: dict[re.Pattern[str], Callable[[], list[Doc]]] = {
    ARGOCD_MANIFEST: argocd_core_stub,
    **{p: calico_policy_only for p, f in render.REMOTE_COPIES.items() if f == CALICO_FILE},
}


def kustomize_offline(folder: Path) -> list[Doc]:
    """`kubectl kustomize` of a folder whose remote resources are replaced by stand-ins
    (only ones listed in REMOTE_STUBS; anything else remote fails the render)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    if not any("://" in str(r) for r in kustomization.get("resources") or []):
        return kustomize(folder)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy)
        resources = []
        for i, entry in enumerate(kustomization.get("resources") or []):
            if not str(entry).startswith(("http://", "https://")):
                resources.append(entry)
                continue
            stub = next((f for p, f in REMOTE_STUBS.items() if p.match(entry)), None)
            if stub is None:
                raise RuntimeError(f"{folder}: no offline stand-in for remote resource {entry}")
            (copy / f"remote-{i}.yaml").write_text(yaml.safe_dump_all(stub()))
            resources.append(f"remote-{i}.yaml")
        kustomization["resources"] = resources
        (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        return kustomize(copy)


def sources(app: Doc) -> list[Doc]:
    spec = app.get("spec", {})
    return list(spec.get("sources") or ([spec["source"]] if spec.get("source") else []))


def in_repo(source: Doc) -> bool:
    return source.get("repoURL") == REPO_URL


def app_name(app: Doc) -> str:
    return kube.name_of(app)


def annotation_words(doc: Doc, key: str) -> list[str]:
    return str(kube.annotations_of(doc).get(ANNOTATION + key, "")).split()


def wave(doc: Doc) -> int | None:
    value = kube.annotations_of(doc).get(WAVE)
    return int(value) if value is not None and re.fullmatch(r"-?\d+", str(value)) else None


def inside_repo(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO.resolve())


def value_file(app: Doc, source: Doc, entry: str) -> Path | str:
    """The repository file a `valueFiles` entry names, or why it names none."""
    if entry.startswith("$"):
        ref, _, rest = entry[1:].partition("/")
        owners = [s for s in sources(app) if s.get("ref") == ref]
        if not owners:
            return f"{entry}: no source has `ref: {ref}`"
        if not in_repo(owners[0]):
            return f"{entry}: ref {ref!r} is not this repository ({owners[0].get('repoURL')})"
        path = REPO / rest
    elif in_repo(source) and source.get("path"):
        path = REPO / source["path"] / entry
    else:
        return f"{entry}: a relative values file of an external chart is inside that chart"
    if not inside_repo(path):
        return f"{entry}: outside the repository"
    return path.resolve()


@dataclass
class Render:
    """What one source of this repository renders into, or why it cannot."""

    docs: list[Doc] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    chart: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)


def render_helm(app: Doc, source: Doc, chart: Path) -> Render:
    helm_spec = source.get("helm") or {}
    out = Render(chart=chart)
    files: list[Path] = []
    for entry in helm_spec.get("valueFiles") or []:
        path = value_file(app, source, entry)
        if isinstance(path, str):
            out.problems.append(path)
        elif not path.is_file():
            out.problems.append(f"values file {path.relative_to(REPO)} does not exist")
        else:
            files.append(path)
    if out.problems:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp) / "values-inline.yaml"
        inline = helm_spec.get("valuesObject") or yaml.safe_load(helm_spec.get("values") or "{}")
        extra.write_text(yaml.safe_dump(inline or {}))
        sets = {str(p["name"]): str(p["value"]) for p in helm_spec.get("parameters") or []}
        namespace = app["spec"]["destination"].get("namespace", "default")
        out.values = helm_chart.merged_values(chart, [*files, extra])
        for key, value in sets.items():
            out.values = helm_chart.deep_merge(out.values, _nested(key.split("."), value))
        try:
            out.docs = helm_chart.render(
                chart,
                [*files, extra],
                sets=sets,
                helm=helm("helm4"),
                release=helm_spec.get("releaseName") or app_name(app),
                namespace=namespace,
            )
        except RuntimeError as error:
            out.problems.append(str(error)[-2000:])
    return out


def _nested(keys: list[str], value: str) -> dict[str, Any]:
    return {keys[0]: value if len(keys) == 1 else _nested(keys[1:], value)}


def render_directory(source: Doc, folder: Path) -> Render:
    directory = source.get("directory") or {}
    patterns = str(directory.get("include") or "*.yaml,*.yml,*.json").strip("{}").split(",")
    files = folder.rglob("*") if directory.get("recurse") else folder.glob("*")
    docs: list[Doc] = []
    for path in sorted(files):
        if path.is_file() and any(fnmatch.fnmatch(path.name, p.strip()) for p in patterns):
            docs += helm_chart.parse_documents(path.read_text())
    return Render(docs=docs)


@functools.cache
def _render_cached(app_json: str, index: int) -> Render:
    app = json.loads(app_json)
    source = sources(app)[index]
    if "ref" in source and "path" not in source:
        return Render()  # a values-only source
    folder = REPO / str(source.get("path", ""))
    if not source.get("path") or not inside_repo(folder) or not folder.is_dir():
        return Render(problems=[f"path {source.get('path')!r} does not exist in the repository"])
    if (folder / "Chart.yaml").is_file():
        return render_helm(app, source, folder)
    if (folder / "kustomization.yaml").is_file():
        try:
            return Render(docs=kustomize_offline(folder))
        except RuntimeError as error:
            return Render(problems=[str(error)[-2000:]])
    return render_directory(source, folder)


def render_source(app: Doc, index: int) -> Render:
    return _render_cached(json.dumps(app, sort_keys=True), index)


def rendered(app: Doc) -> list[Doc]:
    """Every document this Application's sources from this repository render."""
    docs: list[Doc] = []
    for i, source in enumerate(sources(app)):
        if in_repo(source):
            docs += render_source(app, i).docs
    return docs


@dataclass
class GitOps:
    """One rendered environment (or a fixture): its Applications and AppProjects."""

    docs: list[Doc]

    @property
    def apps(self) -> list[Doc]:
        return kube.of_kind(self.docs, "Application")

    @property
    def projects(self) -> dict[str, Doc]:
        return {kube.name_of(p): p for p in kube.of_kind(self.docs, "AppProject")}


@functools.cache
def environment(env: str) -> GitOps:
    return GitOps(kustomize(ARGOCD / "envs" / env))


def group_of(doc: Doc) -> str:
    api = str(doc.get("apiVersion", ""))
    return api.rpartition("/")[0] if "/" in api else ""


def cluster_kinds(docs: Iterable[Doc]) -> set[tuple[str, str]]:
    return {
        (group_of(d), str(d["kind"])) for d in docs if (group_of(d), d["kind"]) in CLUSTER_SCOPED
    }


def declared_kinds(app: Doc) -> set[tuple[str, str]]:
    found = set()
    for word in annotation_words(app, "cluster-kinds"):
        group, _, kind = word.rpartition("/")
        found.add((group, kind))
    return found


def sync_options(app: Doc) -> set[str]:
    return set((app["spec"].get("syncPolicy") or {}).get("syncOptions") or [])


# --------------------------------------------------------------------------------------
# Checks: each returns problems (empty = fine) and is shown failing in test_gitops_rules.py
# --------------------------------------------------------------------------------------


def check_schemas(g: GitOps) -> list[str]:
    """Application/ApplicationSet/AppProject against the Argo CD CRD schemas."""
    docs = kube.of_kind(g.docs, "Application", "ApplicationSet", "AppProject")
    problems = crd_problems(docs)
    problems += [
        f"{kube.ref(d)}: not in namespace argocd"
        for d in docs
        if d["metadata"].get("namespace") != "argocd"
    ]
    return problems


def check_sources(g: GitOps) -> list[str]:
    """External sources are pinned to exact versions; this repository's sources track an
    allowed branch and their paths exist; sources of one Application agree on a revision."""
    problems: list[str] = []
    for app in g.apps:
        name = app_name(app)
        for source in sources(app):
            repo, revision = str(source.get("repoURL", "")), str(source.get("targetRevision", ""))
            if in_repo(source):
                if revision not in REPO_REVISIONS:
                    problems.append(
                        f"{name}: {repo} at {revision!r}, not one of {sorted(REPO_REVISIONS)}"
                    )
            elif not EXACT_VERSION.fullmatch(revision):
                problems.append(
                    f"{name}: {repo} {source.get('chart', '')} targetRevision {revision!r} "
                    "is not an exact version"
                )
            elif not source.get("chart") and not (
                repo.startswith("oci://") and source.get("path") == "."
            ):
                problems.append(
                    f"{name}: external source {repo} is neither a Helm chart "
                    "nor an OCI chart (path '.')"
                )
            if "://" not in repo or repo.endswith("/"):
                problems.append(f"{name}: repoURL {repo!r} is not a plain URL")
            if in_repo(source) and "path" in source and not (REPO / source["path"]).is_dir():
                problems.append(f"{name}: path {source['path']} does not exist")
        revisions = {str(s.get("targetRevision")) for s in sources(app) if in_repo(s)}
        if len(revisions) > 1:
            problems.append(
                f"{name}: sources of this repository at different revisions {sorted(revisions)}"
            )
    return problems


def check_values_files(g: GitOps) -> list[str]:
    """Every valueFiles entry resolves to a file of this repository that exists."""
    problems: list[str] = []
    for app in g.apps:
        for source in sources(app):
            for entry in (source.get("helm") or {}).get("valueFiles") or []:
                path = value_file(app, source, entry)
                if isinstance(path, str):
                    problems.append(f"{app_name(app)}: {path}")
                elif not path.is_file():
                    problems.append(
                        f"{app_name(app)}: values file {path.relative_to(REPO)} is missing"
                    )
    return problems


def check_renders(g: GitOps) -> list[str]:
    """This repository's sources render (helm/kustomize/directory) and the values they set
    are keys of the chart's values.schema.json."""
    problems: list[str] = []
    for app in g.apps:
        for i, source in enumerate(sources(app)):
            if not in_repo(source):
                continue
            out = render_source(app, i)
            problems += [f"{app_name(app)}: {p}" for p in out.problems]
            if out.chart is not None and not out.problems:
                schema = json.loads((out.chart / "values.schema.json").read_text())
                for error in Draft202012Validator(schema).iter_errors(out.values):
                    where = ".".join(map(str, error.absolute_path)) or "<root>"
                    problems.append(f"{app_name(app)}: values {where}: {error.message[:200]}")
    return problems


def project_needs(g: GitOps, project: str) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """(namespaces, cluster-scoped kinds, source repositories) the Applications of a
    project need."""
    namespaces: set[str] = set()
    kinds: set[tuple[str, str]] = set()
    repos: set[str] = set()
    for app in g.apps:
        if app["spec"].get("project") != project:
            continue
        namespaces.add(str(app["spec"]["destination"].get("namespace")))
        namespaces.update(annotation_words(app, "extra-namespaces"))
        kinds |= declared_kinds(app)
        if "CreateNamespace=true" in sync_options(app):
            kinds.add(("", "Namespace"))
        repos.update(str(s.get("repoURL")) for s in sources(app))
        docs = rendered(app)
        kinds |= cluster_kinds(docs)
        namespaces.update(
            str(d["metadata"]["namespace"])
            for d in docs
            if d.get("metadata", {}).get("namespace")
            and (group_of(d), d["kind"]) not in CLUSTER_SCOPED
        )
    return namespaces, kinds, repos


def check_projects(g: GitOps) -> list[str]:
    """Every Application's project exists and allows its destination; each project allows
    exactly the namespaces, cluster-scoped kinds and repositories its Applications need;
    namespaced kinds outside a project's namespaceResourceWhitelist are refused."""
    problems: list[str] = []
    projects = g.projects
    for app in g.apps:
        name, project = app_name(app), app["spec"].get("project")
        if project not in projects:
            problems.append(f"{name}: project {project!r} is not defined")
        elif project == "default":
            problems.append(f"{name}: uses the default project")
        destination = app["spec"].get("destination") or {}
        if destination.get("server") != IN_CLUSTER or destination.get("name"):
            problems.append(f"{name}: destination is not the in-cluster API {IN_CLUSTER}")
    for name, project in projects.items():
        spec = project.get("spec") or {}
        if name == "default":
            if (
                spec.get("sourceRepos")
                or spec.get("destinations")
                or spec.get("clusterResourceWhitelist")
            ):
                problems.append(
                    "AppProject/default: must allow nothing (every Application names its own)"
                )
            continue
        needs_ns, needs_kinds, needs_repos = project_needs(g, name)
        allowed_ns = {str(d.get("namespace")) for d in spec.get("destinations") or []}
        if any(d.get("server") != IN_CLUSTER for d in spec.get("destinations") or []):
            problems.append(f"AppProject/{name}: a destination is not {IN_CLUSTER}")
        allowed_kinds = {
            (str(k.get("group", "")), str(k["kind"]))
            for k in spec.get("clusterResourceWhitelist") or []
        }
        allowed_repos = {str(r) for r in spec.get("sourceRepos") or []}
        for what, needed, allowed in (
            ("namespaces", needs_ns, allowed_ns),
            ("cluster-scoped kinds", needs_kinds, allowed_kinds),
            ("source repositories", needs_repos, allowed_repos),
        ):
            if needed - allowed:
                problems.append(
                    f"AppProject/{name}: {what} needed but not allowed: {sorted(needed - allowed)}"
                )
            if allowed - needed:
                problems.append(
                    f"AppProject/{name}: {what} allowed but unused: {sorted(allowed - needed)}"
                )
        whitelist = spec.get("namespaceResourceWhitelist")
        if whitelist is not None:
            allowed_ns_kinds = {(str(k.get("group", "")), str(k["kind"])) for k in whitelist}
            for app in g.apps:
                if app["spec"].get("project") != name:
                    continue
                for doc in rendered(app):
                    if (group_of(doc), doc["kind"]) not in allowed_ns_kinds | CLUSTER_SCOPED:
                        problems.append(
                            f"AppProject/{name}: {app_name(app)} renders {kube.ref(doc)}, "
                            "not in namespaceResourceWhitelist"
                        )
    return problems


def check_waves(g: GitOps) -> list[str]:
    """Every Application but the root has a sync wave; the provider of every custom API group
    an Application uses (rendered or declared `uses-crds`) syncs in an earlier wave; the
    platform's layers go data -> apps -> gateway after their Secrets."""
    problems: list[str] = []
    providers: dict[str, tuple[str, int]] = {}
    for app in g.apps:
        for group in annotation_words(app, "provides-crds"):
            providers[group] = (app_name(app), wave(app) or 0)
    for app in g.apps:
        name = app_name(app)
        if name == "root":
            continue
        mine = wave(app)
        if mine is None:
            problems.append(f"{name}: no integer {WAVE} annotation")
            continue
        used = set(annotation_words(app, "uses-crds"))
        used |= {group_of(d) for d in rendered(app) if is_custom(d)}
        for group in sorted(used - set(annotation_words(app, "provides-crds"))):
            if BUILTIN_GROUP.search(group) and not group.startswith("gateway.networking"):
                continue
            provider = providers.get(group)
            if provider is None:
                problems.append(f"{name}: uses API group {group} that no Application provides")
            elif provider[1] >= mine:
                problems.append(
                    f"{name} (wave {mine}) uses {group}, provided by {provider[0]} in wave "
                    f"{provider[1]}: the provider must sync first"
                )
    layers = [a for a in g.apps if kube.labels_of(a).get("healthplatform.io/layer")]
    order = {"data": 0, "apps": 1, "gateway": 2}
    ordered = sorted(layers, key=lambda a: order[kube.labels_of(a)["healthplatform.io/layer"]])
    waves = [wave(a) or 0 for a in ordered]
    if waves != sorted(waves) or len(set(waves)) != len(waves):
        problems.append(
            f"platform layers data -> apps -> gateway are not in increasing waves: {waves}"
        )
    return problems


def check_sync_policies(g: GitOps) -> list[str]:
    """Automated sync with prune (unless listed in NO_PRUNE) and selfHeal, retry with
    backoff, ServerSideApply for Applications that install CRDs, RespectIgnoreDifferences
    when differences are ignored."""
    problems: list[str] = []
    for app in g.apps:
        name = app_name(app)
        policy = app["spec"].get("syncPolicy") or {}
        automated = policy.get("automated")
        if not isinstance(automated, dict) or automated.get("enabled") is False:
            problems.append(f"{name}: sync is not automated")
        else:
            if automated.get("selfHeal") is not True:
                problems.append(f"{name}: selfHeal is off")
            if automated.get("prune") is not True and name not in NO_PRUNE:
                problems.append(f"{name}: prune is off")
        backoff = (policy.get("retry") or {}).get("backoff") or {}
        if int((policy.get("retry") or {}).get("limit", 0)) <= 0 or not {
            "duration",
            "factor",
            "maxDuration",
        } <= set(backoff):
            problems.append(f"{name}: no retry with backoff (limit, duration, factor, maxDuration)")
        options = sync_options(app)
        if annotation_words(app, "provides-crds") and "ServerSideApply=true" not in options:
            problems.append(f"{name}: installs CRDs without ServerSideApply=true")
        if app["spec"].get("ignoreDifferences") and "RespectIgnoreDifferences=true" not in options:
            problems.append(f"{name}: ignoreDifferences without RespectIgnoreDifferences=true")
    return problems


def check_ignore_differences(g: GitOps) -> list[str]:
    """Autoscaled Deployments (HPA, KEDA) of rendered sources have /spec/replicas ignored;
    every named ignoreDifferences target exists."""
    problems: list[str] = []
    for app in g.apps:
        docs = rendered(app)
        if not docs:
            continue
        ignored = {
            (str(i.get("kind")), str(i.get("name")))
            for i in app["spec"].get("ignoreDifferences") or []
            if "/spec/replicas" in (i.get("jsonPointers") or [])
        }
        for scaler in kube.of_kind(docs, "HorizontalPodAutoscaler", "ScaledObject"):
            target = scaler["spec"]["scaleTargetRef"]
            key = (str(target.get("kind", "Deployment")), str(target["name"]))
            if key not in ignored:
                problems.append(
                    f"{app_name(app)}: {key[0]}/{key[1]} is scaled by {kube.ref(scaler)} "
                    "but its replicas are not ignored"
                )
        for entry in app["spec"].get("ignoreDifferences") or []:
            if (
                entry.get("name")
                and kube.find(docs, str(entry["kind"]), str(entry["name"])) is None
            ):
                problems.append(
                    f"{app_name(app)}: ignoreDifferences names {entry['kind']}/{entry['name']}, "
                    "which is not rendered"
                )
    return problems


def check_environment(g: GitOps, env: str) -> list[str]:
    """No Application of environment `env` reads another environment's files."""
    others = [e for e in ENVS if e != env]
    problems = []
    for app in g.apps:
        text = json.dumps(app["spec"])
        problems += [
            f"{app_name(app)}: refers to envs/{o}/"
            for o in others
            if f"envs/{o}/" in text or text.endswith(f'envs/{o}"')
        ]
    return problems


def check_argocd_bootstrap(folder: Path) -> list[str]:
    """The core install is pinned by commit, renders with its patches, each workload's
    requests/limits are the capacity reservation (init containers within it), the
    ApplicationSet controller is off, Applications report health."""
    problems: list[str] = []
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    remote = [r for r in kustomization.get("resources") or [] if "://" in str(r)]
    if not remote or not all(ARGOCD_MANIFEST.match(str(r)) for r in remote):
        problems.append(
            f"remote resources {remote} are not core-install.yaml pinned by a 40-hex commit"
        )
    try:
        docs = kustomize_offline(folder)
    except RuntimeError as error:
        return [*problems, str(error)[-1500:]]
    for workload, wanted in ARGOCD_SIZES.items():
        doc = next((d for d in docs if kube.name_of(d) == workload), None)
        if doc is None:
            problems.append(f"{workload} is not rendered")
            continue
        pt = kube.pod_templates([doc])[0]
        main = {"requests": {"cpu": 0, "memory": 0}, "limits": {"cpu": 0, "memory": 0}}
        for container in pt.containers(init=False):
            res = container.get("resources") or {}
            for part in ("requests", "limits"):
                values = res.get(part) or {}
                if "cpu" not in values or "memory" not in values:
                    problems.append(f"{workload}/{container['name']}: no {part}")
                    continue
                main[part]["cpu"] += capacity.cpu_millicores(values["cpu"])
                main[part]["memory"] += capacity.memory_mib(values["memory"])
        got = (
            main["requests"]["cpu"],
            main["requests"]["memory"],
            main["limits"]["cpu"],
            main["limits"]["memory"],
        )
        if got != wanted:
            problems.append(f"{workload}: requests/limits {got} are not the documented {wanted}")
        for container in pt.spec.get("initContainers") or []:
            res = container.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            if not req or not lim:
                problems.append(
                    f"{workload}/{container['name']}: init container without requests/limits"
                )
            elif (
                capacity.cpu_millicores(req["cpu"]) > wanted[0]
                or capacity.memory_mib(req["memory"]) > wanted[1]
                or capacity.cpu_millicores(lim["cpu"]) > wanted[2]
                or capacity.memory_mib(lim["memory"]) > wanted[3]
            ):
                problems.append(
                    f"{workload}/{container['name']}: init container exceeds "
                    f"the reservation {wanted}"
                )
    appset = kube.find(docs, "Deployment", "argocd-applicationset-controller")
    if appset is None or appset["spec"].get("replicas") != 0:
        problems.append(
            "argocd-applicationset-controller is not scaled to 0 (no reservation for it)"
        )
    cm = kube.find(docs, "ConfigMap", "argocd-cm") or {}
    if "resource.customizations.health.argoproj.io_Application" not in (cm.get("data") or {}):
        problems.append("argocd-cm has no health check for Applications: sync waves would not wait")
    return problems


def check_cluster_values(path: Path) -> list[str]:
    """A committed cluster-values.yaml has exactly the keys Terraform writes."""
    text = (REPO / "deploy" / "terraform" / "envs" / "always-free" / "main.tf").read_text()
    block = text[text.index("platform_values = {") :]
    block = block[: block.index("\n  }\n")]
    sections = re.findall(r"^    (\w+) = \{", block, re.MULTILINE)
    keys = set(re.findall(r"^\s{6,8}(\w+)\s+=", block, re.MULTILINE))
    values = yaml.safe_load(path.read_text()) or {}
    problems = []
    if set(values) != set(sections):
        problems.append(
            f"{path.name}: top-level keys {sorted(values)} != Terraform's {sorted(sections)}"
        )
    leaves = {leaf.rsplit(".", 1)[-1] for leaf in leaf_paths(values)}
    if leaves - keys - {"dataLake", "backups", "erasureLog"} or keys - leaves - {"buckets"}:
        problems.append(
            f"{path.name}: keys {sorted(leaves ^ keys)} differ from Terraform's platform_values"
        )
    return problems


def check_velero_location(env: str) -> list[str]:
    """Velero's backup location is the bucket/endpoint/region of cluster-values.yaml."""
    folder = ARGOCD / "envs" / env
    store = (yaml.safe_load((folder / "cluster-values.yaml").read_text()) or {})["objectStore"]
    locations = yaml.safe_load((folder / "velero.yaml").read_text())["configuration"][
        "backupStorageLocation"
    ]
    problems = []
    for location in locations:
        config = location.get("config") or {}
        expected = {
            "bucket": (location.get("bucket"), store["buckets"]["backups"]),
            "s3Url": (config.get("s3Url"), store["endpoint"]),
            "region": (config.get("region"), store["region"]),
        }
        problems += [
            f"{env} velero {k}: {got!r} != cluster-values {want!r}"
            for k, (got, want) in expected.items()
            if got != want
        ]
        if config.get("checksumAlgorithm") != "" or str(config.get("s3ForcePathStyle")) != "true":
            problems.append(
                f"{env} velero: OCI needs s3ForcePathStyle 'true' and checksumAlgorithm ''"
            )
    return problems


# --------------------------------------------------------------------------------------
# The real environments
# --------------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[GitOps], list[str]]] = {
    "schemas": check_schemas,
    "sources": check_sources,
    "renders": check_renders,
    "projects": check_projects,
    "waves": check_waves,
    "sync-policies": check_sync_policies,
    "ignore-differences": check_ignore_differences,
}


def test_environments_exist() -> None:
    assert "always-free" in ENVS and "dev" in ENVS, ENVS


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_environment_passes(env: str, check: str) -> None:
    g = environment(env)
    assert len(g.apps) >= 15, "the environment renders too few Applications"
    problems = CHECKS[check](g)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVS)
def test_environment_files_are_its_own(env: str) -> None:
    g = environment(env)
    assert not check_environment(g, env)
    root = kube.find(g.apps, "Application", "root")
    assert root is not None and root["spec"]["source"]["path"] == f"deploy/argocd/envs/{env}"
    assert (ARGOCD / "envs" / env / "root.yaml").is_file()


def test_every_referenced_values_file_exists() -> None:
    """Lists the values files Applications reference that are not in the repository yet
    (deploy/observability/<name>/values.yaml come from the observability issue #8)."""
    missing = sorted({p for env in ENVS for p in check_values_files(environment(env))})
    assert not missing, "referenced values files missing:\n" + "\n".join(missing)


@pytest.mark.parametrize("env", ENVS)
def test_platform_layers_are_the_whole_platform_with_the_environments_values(env: str) -> None:
    """The three layer Applications of an environment render, together, exactly what one
    release of the chart renders with the same values files, and those values reach it."""
    g = environment(env)
    layers = [a for a in g.apps if kube.labels_of(a).get("healthplatform.io/layer")]
    assert sorted(kube.labels_of(a)["healthplatform.io/layer"] for a in layers) == [
        "apps",
        "data",
        "gateway",
    ]
    docs: list[Doc] = []
    for app in layers:
        out = render_source(app, 0)
        assert not out.problems, out.problems
        docs += out.docs
    source = layers[0]["spec"]["source"]
    files = [value_file(layers[0], source, f) for f in source["helm"]["valueFiles"]]
    assert all(isinstance(f, Path) for f in files)
    chart = REPO / source["path"]
    namespace = layers[0]["spec"]["destination"]["namespace"]
    whole = helm_chart.render(
        chart, [f for f in files if isinstance(f, Path)], helm=helm("helm4"), namespace=namespace
    )
    identity = sorted((d["kind"], kube.name_of(d)) for d in docs)
    assert identity == sorted((d["kind"], kube.name_of(d)) for d in whole)
    assert {"Namespace", "Cluster", "Deployment", "Gateway", "ScaledObject", "ServiceMonitor"} <= {
        d["kind"] for d in docs
    }
    config = kube.find(docs, "ConfigMap", "healthplatform-config")
    assert config is not None
    expected = yaml.safe_load((ARGOCD / "envs" / env / "values.yaml").read_text())
    assert config["data"]["HP_PUBLIC_URL"] == f"https://{expected['publicHost']}"
    assert config["data"]["HP_ENVIRONMENT"] == expected["environment"]
    image = yaml.safe_load((ARGOCD / "envs" / env / "image.yaml").read_text())["image"]
    api = kube.find(docs, "Deployment", "healthplatform-api")
    assert api is not None
    assert image["repository"] in api["spec"]["template"]["spec"]["containers"][0]["image"]


def test_argocd_core_install_fits_the_reservation() -> None:
    problems = check_argocd_bootstrap(BOOTSTRAP)
    assert not problems, "\n".join(problems)


def test_argocd_manifest_checksum_is_recorded_everywhere() -> None:
    text = (BOOTSTRAP / "kustomization.yaml").read_text()
    digest = re.search(r"sha256 of the file: ([0-9a-f]{64})", text)
    assert digest, "kustomization.yaml does not record the manifest's sha256"
    for where in (REPO / "docs" / "gitops.md", REPO / ".github" / "workflows" / "deploy.yml"):
        assert digest.group(1) in where.read_text(), where
    remote = [r for r in yaml.safe_load(text)["resources"] if "://" in r]
    commit = ARGOCD_MANIFEST.match(remote[0])
    assert len(remote) == 1 and commit and COMMIT.fullmatch(commit.group(1))
    assert commit.group(1) in (REPO / "docs" / "gitops.md").read_text()


@pytest.mark.parametrize("env", ENVS)
def test_cluster_values_have_terraforms_keys(env: str) -> None:
    assert not check_cluster_values(ARGOCD / "envs" / env / "cluster-values.yaml")


@pytest.mark.parametrize("env", ENVS)
def test_velero_backs_up_to_the_environments_bucket(env: str) -> None:
    assert not check_velero_location(env)


def test_external_chart_versions_are_documented() -> None:
    """docs/gitops.md's version table lists every external chart at its pinned version."""
    doc = (REPO / "docs" / "gitops.md").read_text()
    for app in environment("always-free").apps:
        for source in sources(app):
            if not in_repo(source):
                chart = source.get("chart") or str(source["repoURL"]).rsplit("/", 1)[-1]
                row = f"`{chart}` | `{source['targetRevision']}`"
                assert row in doc, f"docs/gitops.md has no row with {row}"


def test_observability_applications_match_its_versions_file() -> None:
    """deploy/observability/versions.yaml (issue #8) names chart, version, repository,
    release and values of each component: the Applications install exactly those."""
    path = REPO / "deploy" / "observability" / "versions.yaml"
    versions = yaml.safe_load(path.read_text())
    apps = {app_name(a): a for a in environment("always-free").apps}
    for name, component in versions["components"].items():
        app = apps.get(name) or next(
            (a for a in apps.values() if sources(a)[0].get("path") == component["chart"]), None
        )
        assert app is not None, f"no Application installs {name}"
        assert app["spec"]["destination"]["namespace"] == versions["namespace"], name
        chart = sources(app)[0]
        helm_spec = chart.get("helm") or {}
        assert helm_spec.get("releaseName") == component["release"], name
        values = str(REPO / "deploy" / "observability" / component["values"])
        resolved = [str(value_file(app, chart, f)) for f in helm_spec.get("valueFiles") or []]
        assert values in resolved, (name, resolved)
        if component["repository"]:
            assert chart["repoURL"] == component["repository"], name
            assert chart["chart"] == component["chart"], name
            assert chart["targetRevision"] == component["version"], name
