"""Offline checks of deploy/charts/healthplatform with every profile, Helm 3 and Helm 4.

* `helm lint --strict` and `helm template` of the chart (defaults and each profile), both
  Helm majors, identical output;
* strict schema validation of every rendered object: built-in kinds with
  kubernetes-validate, custom resources with jsonschema against the CRD schemas
  (derived from the CRDs inside the pinned charts, tests/support/artifacts.py);
* the cross-reference, Pod Security, image and label rules of
  healthplatform_deploy.rules on each render (test_charts_rules.py shows each rule failing
  on a broken fixture);
* the layered install (data, apps, gateway as three releases) renders the same objects;
* values: documented (`## @param`) = schema = values.yaml, Terraform's generated file is
  accepted, one key feeds the JWT issuer/audience of every component.

Tools come from scripts/ensure-k8s-tools.sh; a missing tool fails the tests.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from healthplatform_deploy import app_settings, kube, pod_security
from healthplatform_deploy import context as render_context
from healthplatform_deploy import endpoints as endpoint_rules
from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import rules as deploy_rules
from healthplatform_deploy import workloads as workload_rules
from tests.support.artifacts import crd_schema_dir as derived_crd_schema_dir

pytestmark = pytest.mark.deploy

REPO = kube.REPO_ROOT
CHART = kube.CHARTS_DIR / kube.CHART_NAME
PROFILES = ("always-free", "legacy-free", "paid-small")
HELMS = ("helm3", "helm4")
ENSURE_TOOLS = REPO / "scripts" / "ensure-k8s-tools.sh"
# Everything optional switched on, so that its templates are validated too.
ALL_FEATURES = {"monitoring.serviceMonitors.enabled": "true", "objectStore.provider": "seaweedfs"}


@functools.cache
def tools() -> dict[str, str]:
    """Paths printed by scripts/ensure-k8s-tools.sh (installs on first use)."""
    result = subprocess.run(
        ["bash", str(ENSURE_TOOLS)], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"scripts/ensure-k8s-tools.sh failed; the chart checks need it:\n{result.stderr}"
        )
    found = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    for key in ("HELM3", "HELM4", "KUBERNETES_VALIDATE"):
        if not Path(found.get(key, "")).is_file():
            pytest.fail(f"{key} missing after scripts/ensure-k8s-tools.sh")
    return found


def helm(which: str) -> str:
    return tools()["HELM3" if which == "helm3" else "HELM4"]


def values_files(profile: str | None) -> tuple[Path, ...]:
    return () if profile is None else (helm_chart.profile_path(profile),)


@functools.cache
def render_text(
    profile: str | None, which: str = "helm4", sets: tuple[tuple[str, str], ...] = ()
) -> str:
    return helm_chart.render_text(CHART, values_files(profile), sets=dict(sets), helm=helm(which))


def render(profile: str | None, which: str = "helm4", **sets: str) -> list[kube.Doc]:
    return helm_chart.parse_documents(render_text(profile, which, tuple(sorted(sets.items()))))


def context(profile: str | None, docs: list[kube.Doc]) -> render_context.Context:
    values = helm_chart.merged_values(CHART, values_files(profile))
    return render_context.Context(docs, render_context.external_secrets(values))


# --------------------------------------------------------------------------------------
# Helm: lint and template, both majors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", HELMS)
@pytest.mark.parametrize("profile", [None, *PROFILES])
def test_helm_lint_strict(which: str, profile: str | None) -> None:
    command = [helm(which), "lint", "--strict", str(CHART), "--kube-version", kube.KUBE_VERSION]
    for path in values_files(profile):
        command += ["--values", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("profile", [None, *PROFILES])
def test_helm3_and_helm4_render_the_same(profile: str | None) -> None:
    helm3, helm4 = render(profile, "helm3"), render(profile, "helm4")
    assert len(helm4) > 40
    assert helm3 == helm4


def test_chart_is_helm_v2_api_and_pinned_versions() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert not (CHART / "requirements.yaml").exists()
    assert (CHART / "templates" / "NOTES.txt").is_file()


# --------------------------------------------------------------------------------------
# Schema validation of every rendered object
# --------------------------------------------------------------------------------------


def crd_schema_dir() -> Path:
    return derived_crd_schema_dir()


@functools.cache
def crd_validator(group: str, kind: str, version: str) -> Draft202012Validator:
    path = crd_schema_dir() / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        pytest.fail(f"no CRD schema {path} (not in tests/artifacts.lock.json)")
    return Draft202012Validator(json.loads(path.read_text()))


def is_custom(doc: kube.Doc) -> bool:
    group = str(doc["apiVersion"]).rpartition("/")[0]
    return ("." in group and not group.endswith(".k8s.io")) or group.startswith("gateway.")


def crd_problems(docs: list[kube.Doc]) -> list[str]:
    problems = []
    for doc in docs:
        if not is_custom(doc):
            continue
        group, _, version = str(doc["apiVersion"]).rpartition("/")
        for error in crd_validator(group, doc["kind"], version).iter_errors(doc):
            path = "/".join(map(str, error.absolute_path))
            problems.append(f"{kube.ref(doc)} {path}: {error.message[:300]}")
    return problems


def builtin_problems(docs: list[kube.Doc], tmp_path: Path) -> list[str]:
    builtin = [doc for doc in docs if not is_custom(doc)]
    path = tmp_path / "builtin.yaml"
    path.write_text(yaml.safe_dump_all(builtin, sort_keys=False))
    result = subprocess.run(
        [
            tools()["KUBERNETES_VALIDATE"],
            "--strict",
            "--quiet",
            "--no-warn",
            "-k",
            "1.34",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 and not errors:
        errors = [f"kubernetes-validate exited {result.returncode}"]
    return errors


def test_every_rendered_object_is_schema_valid(tmp_path: Path) -> None:
    """All profiles plus all optional features, built-in and custom kinds, in one go."""
    docs: list[kube.Doc] = []
    for profile in PROFILES:
        docs += render(profile)
        docs += render(profile, **ALL_FEATURES)
    docs += render(None, **ALL_FEATURES)
    assert not builtin_problems(docs, tmp_path)
    assert not crd_problems(docs)
    kinds = {doc["kind"] for doc in docs}
    assert {"Cluster", "ScaledObject", "SecurityPolicy", "HTTPRoute", "Certificate"} <= kinds
    assert {"ServiceMonitor", "StatefulSet", "Job", "CronJob"} <= kinds


# --------------------------------------------------------------------------------------
# The rules of healthplatform_deploy.rules on every render
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("features", ["profile", "all-features"])
@pytest.mark.parametrize("profile", PROFILES)
def test_rendered_platform_passes_every_rule(profile: str, features: str) -> None:
    docs = render(profile, **(ALL_FEATURES if features == "all-features" else {}))
    results = deploy_rules.run_all(docs, context(profile, docs))
    failed = {rule: problems for rule, problems in results.items() if problems}
    assert not failed, json.dumps(failed, indent=2)


def test_the_rules_see_every_app_container() -> None:
    """Guard against rules passing because they found nothing to check."""
    docs = render("always-free")
    ctx = context("always-free", docs)
    apps, _ = app_settings.app_containers(docs, ctx)
    assert {a.role for a in apps} == set(app_settings.APP_ROLES.values())
    endpoints, _ = endpoint_rules.in_cluster_urls(docs, ctx)
    assert {e.service for e in endpoints} >= {
        "healthplatform-health-db-rw",
        "healthplatform-auth-db-rw",
        "healthplatform-rabbitmq",
        "healthplatform-valkey-health",
        "healthplatform-valkey-auth",
        "healthplatform-auth",
    }
    assert len(kube.pod_templates(docs)) >= 10


def test_image_digests_are_reported() -> None:
    """Tags are pinned (a rule); images still without a digest are listed in docs/deploy.md."""
    unpinned = pod_security.unpinned_digests(render("always-free"))
    documented = (REPO / "docs" / "deploy.md").read_text()
    for image in unpinned:
        assert image.rsplit("/", 1)[-1].split(":")[0] in documented, image


# --------------------------------------------------------------------------------------
# Layered install: three releases of the chart
# --------------------------------------------------------------------------------------

LAYERS = ("data", "apps", "gateway")


def layer_sets(layer: str) -> dict[str, str]:
    return {f"layers.{name}": str(name == layer).lower() for name in LAYERS}


def identity(doc: kube.Doc) -> tuple[str, str]:
    return doc["kind"], kube.name_of(doc)


@pytest.mark.parametrize("profile", PROFILES)
def test_layer_releases_partition_the_platform(profile: str) -> None:
    whole = {identity(d) for d in render(profile)}
    parts = [{identity(d) for d in render(profile, **layer_sets(layer))} for layer in LAYERS]
    assert set().union(*parts) == whole
    assert sum(len(p) for p in parts) == len(whole), "an object is rendered by two layers"
    for layer, part in zip(LAYERS, parts, strict=True):
        docs = render(profile, **layer_sets(layer))
        assert all(kube.labels_of(d)["healthplatform.io/layer"] == layer for d in docs), layer
        assert part


def hook_phase(docs: list[kube.Doc], name: str) -> str:
    job = kube.find(docs, "Job", name)
    assert job is not None
    return kube.annotations_of(job)["helm.sh/hook"]


def test_migrations_run_before_the_apps_when_the_data_layer_is_installed_first() -> None:
    apps_only = render("always-free", **layer_sets("apps"))
    all_in_one = render("always-free")
    for name in ("healthplatform-migrate-health", "healthplatform-migrate-auth"):
        assert hook_phase(apps_only, name) == "pre-install,pre-upgrade"
        # In one release the database does not exist before install: run after it.
        assert hook_phase(all_in_one, name) == "post-install,pre-upgrade"
    ctx = context("always-free", apps_only)
    assert not workload_rules.check_hooks(apps_only, ctx)


# --------------------------------------------------------------------------------------
# Values: documentation, schema, Terraform's generated file, one source per setting
# --------------------------------------------------------------------------------------


def leaf_paths(tree: Any, prefix: str = "") -> set[str]:
    if isinstance(tree, dict) and tree and not prefix.endswith(("settings", "parameters")):
        found: set[str] = set()
        for key, value in tree.items():
            found |= leaf_paths(value, f"{prefix}{key}." if prefix or key else key)
        return found
    return {prefix.rstrip(".")}


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    props = schema.get("properties")
    if not props:
        return {prefix.rstrip(".")}
    found: set[str] = set()
    for key, sub in props.items():
        if key != "global":
            found |= schema_paths(sub, f"{prefix}{key}.")
    return found


def documented_params() -> set[str]:
    text = (CHART / "values.yaml").read_text()
    return set(re.findall(r"^\s*## @param (\S+)", text, re.MULTILINE))


def covers(params: set[str], path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in params)


def test_every_value_is_documented_and_in_the_schema() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    leaves = leaf_paths(values)
    params = documented_params()
    undocumented = sorted(p for p in leaves if not covers(params, p))
    assert not undocumented, f"values without ## @param: {undocumented}"
    stale = sorted(
        p for p in params if not any(leaf == p or leaf.startswith(p + ".") for leaf in leaves)
    )
    assert not stale, f"## @param for keys that do not exist: {stale}"
    in_schema = schema_paths(schema)
    missing = sorted(
        p
        for p in leaves
        if not covers(in_schema, p) and not any(s.startswith(p + ".") for s in in_schema)
    )
    assert not missing, f"values missing from values.schema.json: {missing}"


def assert_schema_object_strictness(schema: dict[str, Any], path: str = "") -> list[str]:
    loose = []
    if schema.get("type") == "object" and "properties" in schema:
        if schema.get("additionalProperties") is not False:
            loose.append(path or "<root>")
        for key, sub in schema["properties"].items():
            if key != "global":
                loose += assert_schema_object_strictness(sub, f"{path}.{key}")
    return loose


def test_values_schema_is_strict() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert not assert_schema_object_strictness(schema)
    with pytest.raises(RuntimeError, match="additional properties"):
        render(None, unknownKey="1")
    with pytest.raises(RuntimeError, match="not"):
        render(None, **{"data.valkey.image.tag": "latest"})
    with pytest.raises(RuntimeError, match="HP_DATABASE_URL is set by the chart"):
        render(None, **{"apps.settings.HP_DATABASE_URL": "postgresql://x"})


def terraform_generated_values(tmp_path: Path) -> Path:
    """A generated/platform-values.yaml with every key Terraform writes (docs/terraform.md)."""
    text = (REPO / "deploy" / "terraform" / "envs" / "always-free" / "main.tf").read_text()
    block = text[text.index("platform_values = {") :]
    keys = re.findall(r"^\s{6}(\w+)\s+=", block[: block.index("\n  }\n")], re.MULTILINE)
    assert {"endpoint", "nsgId", "podsCidr", "blockStorageForPvcGb"} <= set(keys)
    generated = {
        "objectStore": {
            "provider": "oci",
            "endpoint": "https://axaxnpcrorw5.compat.objectstorage.eu-frankfurt-1.oraclecloud.com",
            "region": "eu-frankfurt-1",
            "namespace": "axaxnpcrorw5",
            "forcePathStyle": True,
            "buckets": {
                "dataLake": "hp-datalake",
                "backups": "hp-backups",
                "erasureLog": "hp-erasure-log",
            },
        },
        "cluster": {
            "name": "hp-oke",
            "id": "ocid1.cluster.oc1.eu-frankfurt-1.aaaa",
            "kubernetesVersion": "v1.34.1",
            "region": "eu-frankfurt-1",
            "cni": "flannel",
            "podsCidr": "10.244.0.0/16",
            "servicesCidr": "10.96.0.0/16",
        },
        "network": {
            "vcnCidr": "10.0.0.0/16",
            "workerSubnetCidr": "10.0.10.0/24",
            "loadBalancerSubnetCidr": "10.0.20.0/24",
        },
        "loadBalancer": {
            "subnetId": "ocid1.subnet.oc1.eu-frankfurt-1.lb",
            "nsgId": "ocid1.networksecuritygroup.oc1.eu-frankfurt-1.lbnsg",
            "shape": "flexible",
            "minBandwidthMbps": 10,
            "maxBandwidthMbps": 10,
        },
        "capacity": {
            "nodes": 2,
            "ocpusPerNode": 1,
            "memoryGbPerNode": 6,
            "blockStorageForPvcGb": 100,
            "minVolumeSizeGb": 50,
        },
    }
    leaves = leaf_paths(generated)
    for key in keys:
        assert any(f".{key}." in f".{leaf}." for leaf in leaves), f"Terraform writes {key}"
    path = tmp_path / "platform-values.yaml"
    path.write_text("# Generated by Terraform\n" + yaml.safe_dump(generated))
    return path


def test_terraform_generated_values_feed_the_chart(tmp_path: Path) -> None:
    generated = terraform_generated_values(tmp_path)
    docs = helm_chart.render(
        CHART,
        [helm_chart.profile_path("always-free"), generated],
        helm=helm("helm4"),
        sets={"publicHost": "health.example.org"},
    )
    proxy = kube.find(docs, "EnvoyProxy", "healthplatform")
    assert proxy is not None
    annotations = proxy["spec"]["provider"]["kubernetes"]["envoyService"]["annotations"]
    assert annotations["oci.oraclecloud.com/oci-network-security-groups"] == (
        "ocid1.networksecuritygroup.oc1.eu-frankfurt-1.lbnsg"
    )
    assert (
        annotations["service.beta.kubernetes.io/oci-load-balancer-security-list-management-mode"]
        == "None"
    )
    assert annotations["service.beta.kubernetes.io/oci-load-balancer-shape-flex-max"] == "10"
    assert annotations["oci.oraclecloud.com/load-balancer-type"] == "lb"
    config = kube.find(docs, "ConfigMap", "healthplatform-config")
    assert config is not None
    assert config["data"]["HP_S3_ENDPOINT_URL"].startswith("https://axaxnpcrorw5.compat.")
    assert config["data"]["HP_S3_BUCKET"] == "hp-datalake"
    assert not workload_rules.check_gateway(docs, render_context.Context(docs))


def test_one_values_key_feeds_every_jwt_issuer_and_audience() -> None:
    docs = render("always-free", **{"jwt.issuer": "https://id.example.org", "jwt.audience": "hp-x"})
    ctx = context("always-free", docs)
    assert not app_settings.check_jwt(docs, ctx)
    apps, _ = app_settings.app_containers(docs, ctx)
    issuers = {
        a.env[var].value
        for a in apps
        for var in ("HP_JWT_ISSUER", "HP_AUTH_ISSUER")
        if var in a.env
    }
    assert issuers == {"https://id.example.org"}
    policy = kube.of_kind(docs, "SecurityPolicy")[0]
    provider = policy["spec"]["jwt"]["providers"][0]
    assert provider["issuer"] == "https://id.example.org"
    assert provider["audiences"] == ["hp-x"]


def test_jwt_only_on_the_api_routes() -> None:
    docs = render("always-free")
    policy = kube.of_kind(docs, "SecurityPolicy")[0]
    targets = [t["name"] for t in policy["spec"]["targetRefs"]]
    assert targets == ["healthplatform-api-routes"]
    api_routes = kube.find(docs, "HTTPRoute", "healthplatform-api-routes")
    assert api_routes is not None
    prefixes = {mt["path"]["value"] for r in api_routes["spec"]["rules"] for mt in r["matches"]}
    assert prefixes == {"/v1", "/mcp"}  # /mcp: the assistant endpoint takes API tokens
    auth_routes = kube.find(docs, "HTTPRoute", "healthplatform-auth-routes")
    assert auth_routes is not None
    public = {mt["path"]["value"] for r in auth_routes["spec"]["rules"] for mt in r["matches"]}
    assert public == {
        "/register",
        "/authenticate",
        "/token",
        "/passkeys",
        "/devices",
        "/logout",
        "/account",
        "/.well-known",
    }


def test_keda_watches_the_queue_the_app_consumes() -> None:
    docs = render("always-free", **{"apps.rabbitmqQueue": "etl.other"})
    scaled = kube.of_kind(docs, "ScaledObject")[0]
    rabbit = next(t for t in scaled["spec"]["triggers"] if t["type"] == "rabbitmq")
    assert rabbit["metadata"]["queueName"] == "etl.other"
    assert {t["type"] for t in scaled["spec"]["triggers"]} == {"rabbitmq", "cpu"}
    assert not workload_rules.check_autoscaling(docs, context("always-free", docs))
