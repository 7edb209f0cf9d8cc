"""Offline checks of deploy/terraform.

The OCI provider cannot be downloaded here, so `terraform validate` and `plan`
of the real configuration cannot run. What runs instead:

* `terraform fmt -check`;
* Terraform itself, without providers, on the files that are kept free of
  resources on purpose (every variables.tf, modules/network/rules.tf,
  modules/oke/locals.tf, envs/always-free/locals.tf): `terraform plan` proves the
  input validations refuse what they must (3 OCPU, 0.0.0.0/0 on the API, ...),
  and `terraform console` evaluates the NSG rule table, the bucket map and the
  node image selection, which are then checked in Python;
* static checks of the parsed HCL (python-hcl2) for what depends on resources;
* checkov, through scripts/checkov.sh.

Every checker also runs against a deliberately broken fixture in
tests/deploy/fixtures/terraform/ and must fail there.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
TF_ROOT = REPO / "deploy" / "terraform"
MODULES = TF_ROOT / "modules"
ENV = TF_ROOT / "envs" / "always-free"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "terraform"
DOCS = REPO / "docs" / "terraform.md"
CHECKOV_SCRIPT = REPO / "scripts" / "checkov.sh"

MODULE_NAMES = ("network", "oke", "storage")
STANDARD_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")

NODE_PORTS = (30000, 32767)
KUBE_PROXY_HEALTH_PORT = 10256
# Ports that must never be reachable from the internet.
SENSITIVE_PORTS = ((22, 22), (6443, 6443), (10250, 10250), (12250, 12250), NODE_PORTS)


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def load_tf(path: Path) -> dict[str, Any]:
    """Parse one HCL file; expressions come back as "${...}" strings."""
    with path.open() as handle:
        return hcl2.load(
            handle,
            serialization_options=SerializationOptions(
                explicit_blocks=False, strip_string_quotes=True
            ),
        )


def load_dir(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, load_tf(path)) for path in sorted(directory.glob("*.tf"))]


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Nested blocks `name { ... }` of a body (hcl2 gives a list, or nothing)."""
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def dynamic_blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [entry[name] for entry in blocks(body, "dynamic") if name in entry]


def iter_top(
    docs: list[tuple[Path, dict[str, Any]]], kind: str
) -> Iterator[tuple[Path, str, dict]]:
    """Top-level `variable`, `output`, `locals`... entries: (file, name, body)."""
    for path, doc in docs:
        for entry in doc.get(kind, []):
            for name, body in entry.items():
                yield path, name, body


def iter_resources(
    docs: list[tuple[Path, dict[str, Any]]], rtype: str | None = None
) -> Iterator[tuple[Path, str, str, dict[str, Any]]]:
    for path, doc in docs:
        for entry in doc.get("resource", []):
            for kind, named in entry.items():
                if rtype is not None and kind != rtype:
                    continue
                for name, body in named.items():
                    yield path, kind, name, body


def all_locals(docs: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _, doc in docs:
        for entry in doc.get("locals", []):
            merged.update(entry)
    return merged


def leaf_paths(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"objectStore.buckets.dataLake": "${...}", ...} of a nested dict."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if key.startswith("__"):  # hcl2 comment/meta entries
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(leaf_paths(value, f"{path}."))
        else:
            out[path] = value
    return out


# --------------------------------------------------------------------------- #
# Terraform without providers
# --------------------------------------------------------------------------- #


def terraform_env(tmp_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_VAR_", "TF_CLI_ARGS", "TF_WORKSPACE", "TF_DATA_DIR"))
    }
    cli_config = tmp_dir / "terraformrc"
    cli_config.write_text("")
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
    )
    return env


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    binary = os.environ.get("TERRAFORM_BIN") or shutil.which("terraform")
    if not binary:
        pytest.fail(
            "terraform not found: install Terraform >= 1.9 (or set TERRAFORM_BIN); "
            "these checks must not be skipped"
        )
    return binary


class PureConfig:
    """A throw-away root module made of provider-free files, run with real Terraform."""

    def __init__(
        self, terraform: str, workdir: Path, files: list[Path], extra: dict[str, str] | None = None
    ):
        self.terraform = terraform
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        for source in files:
            shutil.copy(source, workdir / source.name)
        for name, text in (extra or {}).items():
            (workdir / name).write_text(text)
        self.env = terraform_env(workdir)
        self._cases = 0
        result = self._run(["init", "-backend=false", "-input=false", "-no-color"])
        assert result.returncode == 0, result.stdout + result.stderr

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.terraform, *args],
            cwd=self.workdir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def _var_file(self, variables: dict[str, Any]) -> str:
        self._cases += 1
        path = self.workdir / f"case-{self._cases}.tfvars.json"
        path.write_text(json.dumps(variables))
        return str(path)

    def plan(self, variables: dict[str, Any]) -> tuple[bool, str]:
        """(accepted, output) of `terraform plan`: input validations run here."""
        result = self._run(
            [
                "plan",
                "-input=false",
                "-no-color",
                "-lock=false",
                f"-var-file={self._var_file(variables)}",
            ]
        )
        return result.returncode == 0, result.stdout + result.stderr

    def evaluate(self, expression: str, variables: dict[str, Any]) -> Any:
        """Value of an expression, through `terraform console` and jsonencode()."""
        result = self._run(
            ["console", "-no-color", f"-var-file={self._var_file(variables)}"],
            stdin=f"jsonencode({expression})\n",
        )
        assert result.returncode == 0, f"terraform console failed:\n{result.stdout}{result.stderr}"
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        return json.loads(json.loads(lines[-1]))


def unified(text: str) -> str:
    """Terraform wraps long error messages; join the lines for substring checks."""
    return re.sub(r"\s+", " ", text.replace("│", " "))


# Baseline inputs of each provider-free harness. The environment's comes from
# terraform.tfvars.example, which therefore has to pass every validation.

OKE_BASE = {
    "compartment_id": "ocid1.compartment.oc1..example",
    "tenancy_id": "ocid1.tenancy.oc1..example",
    "vcn_id": "ocid1.vcn.oc1..example",
    "api_endpoint_subnet_id": "ocid1.subnet.oc1..api",
    "api_endpoint_nsg_ids": ["ocid1.networksecuritygroup.oc1..cp"],
    "service_lb_subnet_ids": ["ocid1.subnet.oc1..lb"],
    "worker_subnet_id": "ocid1.subnet.oc1..workers",
    "worker_nsg_ids": ["ocid1.networksecuritygroup.oc1..workers"],
}

NETWORK_BASE = {
    "compartment_id": "ocid1.compartment.oc1..example",
    "api_allowed_cidrs": ["203.0.113.10/32"],
}

VALID_BUCKETS = {
    "data": {
        "versioning": True,
        "lifecycle_rules": [
            {"name": "expire-tmp", "days": 7, "prefixes": ["tmp/"]},
            {"name": "expire-previous-versions", "target": "previous-object-versions", "days": 7},
            {
                "name": "abort-multipart",
                "action": "ABORT",
                "target": "multipart-uploads",
                "days": 2,
            },
        ],
    },
    "worm": {
        "retention_days": 30,
        "lifecycle_rules": [{"name": "expire", "days": 30}],
    },
}

STORAGE_BASE = {
    "compartment_id": "ocid1.compartment.oc1..example",
    "tenancy_id": "ocid1.tenancy.oc1..example",
    "region": "eu-frankfurt-1",
    "s3_user_email": "ops+s3@example.com",
    "buckets": VALID_BUCKETS,
}


@pytest.fixture(scope="session")
def env_base() -> dict[str, Any]:
    values = load_tf(ENV / "terraform.tfvars.example")
    return {key: value for key, value in values.items() if not key.startswith("__")}


@pytest.fixture(scope="session")
def env_vars_cfg(terraform_bin: str, tmp_path_factory: pytest.TempPathFactory) -> PureConfig:
    return PureConfig(
        terraform_bin, tmp_path_factory.mktemp("env"), [ENV / "variables.tf", ENV / "locals.tf"]
    )


@pytest.fixture(scope="session")
def oke_vars_cfg(terraform_bin: str, tmp_path_factory: pytest.TempPathFactory) -> PureConfig:
    return PureConfig(
        terraform_bin, tmp_path_factory.mktemp("oke"), [MODULES / "oke" / "variables.tf"]
    )


@pytest.fixture(scope="session")
def network_cfg(terraform_bin: str, tmp_path_factory: pytest.TempPathFactory) -> PureConfig:
    return PureConfig(
        terraform_bin,
        tmp_path_factory.mktemp("network"),
        [MODULES / "network" / "variables.tf", MODULES / "network" / "rules.tf"],
    )


@pytest.fixture(scope="session")
def storage_vars_cfg(terraform_bin: str, tmp_path_factory: pytest.TempPathFactory) -> PureConfig:
    return PureConfig(
        terraform_bin, tmp_path_factory.mktemp("storage"), [MODULES / "storage" / "variables.tf"]
    )


# --------------------------------------------------------------------------- #
# Formatting
# --------------------------------------------------------------------------- #


def test_terraform_fmt(terraform_bin: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [terraform_bin, "fmt", "-check", "-recursive", "-diff", "-no-color", str(TF_ROOT)],
        env=terraform_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        f"run `terraform fmt -recursive deploy/terraform`:\n{result.stdout}{result.stderr}"
    )


def test_terraform_fmt_check_can_fail(terraform_bin: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('locals {\nx=1\n    yy = "a"\n}\n')
    result = subprocess.run(
        [terraform_bin, "fmt", "-check", "-recursive", str(tmp_path)],
        env=terraform_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


# --------------------------------------------------------------------------- #
# Layout, versions, variables
# --------------------------------------------------------------------------- #


def layout_violations(directory: Path, extra_providers: tuple[str, ...] = ()) -> list[str]:
    problems = [
        f"{directory.name}: missing {name}"
        for name in STANDARD_FILES
        if not (directory / name).is_file()
    ]
    versions = directory / "versions.tf"
    if not versions.is_file():
        return problems
    terraform = load_tf(versions).get("terraform", [{}])[0]
    required = str(terraform.get("required_version", ""))
    match = re.search(r">=\s*1\.(\d+)", required)
    if not match or int(match.group(1)) < 9:
        problems.append(
            f"{directory.name}: required_version must be >= 1.9 "
            f"(cross-variable validation), got {required!r}"
        )
    providers: dict[str, Any] = {}
    for entry in terraform.get("required_providers", []):
        providers.update(entry)
    for name, source in (("oci", "oracle/oci"), *((p, f"hashicorp/{p}") for p in extra_providers)):
        spec = providers.get(name)
        if not isinstance(spec, dict) or spec.get("source") != source:
            problems.append(f"{directory.name}: provider {name} must come from {source}")
        elif not re.search(r"<\s*\d", str(spec.get("version", ""))):
            problems.append(
                f"{directory.name}: provider {name} needs a version constraint with an upper bound"
            )
    return problems


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_module_layout_and_pins(module: str) -> None:
    assert layout_violations(MODULES / module) == []


def test_env_layout_and_pins() -> None:
    assert layout_violations(ENV, extra_providers=("local",)) == []
    assert (ENV / "terraform.tfvars.example").is_file()
    assert (ENV / "backend.tf.example").is_file()


def test_layout_check_fails_on_incomplete_module() -> None:
    problems = layout_violations(FIXTURES / "module-incomplete")
    assert any("missing variables.tf" in p for p in problems)
    assert any("missing outputs.tf" in p for p in problems)
    assert any("required_version" in p for p in problems)
    assert any("upper bound" in p for p in problems)


def variable_violations(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """Every variable has a description and a type, in the order default, description, type."""
    problems = []
    order = ["default", "description", "type"]
    for path, name, body in iter_top(docs, "variable"):
        where = f"{path.parent.name}/{path.name}: variable {name}"
        if not str(body.get("description", "")).strip():
            problems.append(f"{where} has no description")
        if "type" not in body:
            problems.append(f"{where} has no type")
        present = [key for key in body if key in order]
        if present != [key for key in order if key in body]:
            problems.append(
                f"{where}: attributes must come in the order default, description, type"
            )
    return problems


def all_tf_dirs() -> list[Path]:
    return sorted({path.parent for path in TF_ROOT.rglob("*.tf") if ".terraform" not in path.parts})


def test_every_variable_documented_and_typed() -> None:
    docs = [doc for directory in all_tf_dirs() for doc in load_dir(directory)]
    assert list(iter_top(docs, "variable")), "no variables found"
    assert variable_violations(docs) == []


def test_variable_check_fails_on_undocumented_variables() -> None:
    problems = variable_violations(load_dir(FIXTURES / "variables-undocumented"))
    assert len(problems) == 4, problems


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_module_variables_have_validations(module: str) -> None:
    docs = load_dir(MODULES / module)
    validated = [name for _, name, body in iter_top(docs, "variable") if blocks(body, "validation")]
    assert len(validated) >= 3, f"{module}: expected validation blocks, found them on {validated}"


def test_every_output_has_description() -> None:
    docs = [doc for directory in all_tf_dirs() for doc in load_dir(directory)]
    missing = [
        f"{p.parent.name}:{name}"
        for p, name, body in iter_top(docs, "output")
        if not body.get("description")
    ]
    assert missing == []


def test_tfvars_example_sets_every_required_variable(env_base: dict[str, Any]) -> None:
    declared = {name: body for _, name, body in iter_top(load_dir(ENV), "variable")}
    required = {name for name, body in declared.items() if "default" not in body}
    assert required - set(env_base) == set(), "terraform.tfvars.example misses required variables"
    assert set(env_base) - set(declared) == set(), (
        "terraform.tfvars.example sets undeclared variables"
    )


# --------------------------------------------------------------------------- #
# Always Free budget and input validations (real Terraform, no provider)
# --------------------------------------------------------------------------- #

# (id, overrides, None if accepted, else a fragment of the expected error)
BUDGET_CASES = [
    ("always-free-defaults", {}, None),
    (
        "three-nodes-is-3-ocpu",
        {"node_count": 3, "memory_gb_per_node": 4, "reserved_pvc_gb": 0},
        "= 3 OCPU, more than free_tier_ocpus (2)",
    ),
    (
        "one-node-with-3-ocpu",
        {"node_count": 1, "ocpus_per_node": 3, "memory_gb_per_node": 12},
        "= 3 OCPU, more than free_tier_ocpus (2)",
    ),
    ("memory-16-gb", {"memory_gb_per_node": 8}, "= 16 GB, more than free_tier_memory_gb (12)"),
    (
        "block-storage-300-gb",
        {"boot_volume_gb": 100},
        "= 300 GB, more than free_tier_block_storage_gb (200)",
    ),
    (
        "no-room-for-pvcs",
        {"reserved_pvc_gb": 150},
        "= 250 GB, more than free_tier_block_storage_gb (200)",
    ),
    ("boot-volume-under-minimum", {"boot_volume_gb": 40}, "at least 50"),
    ("pvc-reserve-not-multiple-of-50", {"reserved_pvc_gb": 30}, "multiple of 50"),
    ("fractional-ocpu", {"ocpus_per_node": 1.5}, "whole number"),
    (
        "one-node-2-ocpu-12-gb-100-gb-boot",
        {"node_count": 1, "ocpus_per_node": 2, "memory_gb_per_node": 12, "boot_volume_gb": 100},
        None,
    ),
    (
        "tenancy-with-legacy-4-ocpu-24-gb",
        {
            "free_tier_ocpus": 4,
            "free_tier_memory_gb": 24,
            "ocpus_per_node": 2,
            "memory_gb_per_node": 12,
        },
        None,
    ),
    ("kubernetes-version-pinned", {"kubernetes_version": "v1.35.0"}, None),
    ("kubernetes-version-without-v", {"kubernetes_version": "1.34.1"}, "must look like v1.34.1"),
    ("kubernetes-version-without-patch", {"kubernetes_version": "v1.34"}, "must look like v1.34.1"),
    ("kubernetes-version-latest", {"kubernetes_version": "latest"}, "must look like v1.34.1"),
]

API_CIDR_CASES = [
    ("api-one-ip", {"api_allowed_cidrs": ["198.51.100.7/32", "203.0.113.0/24"]}, None),
    ("api-internet", {"api_allowed_cidrs": ["0.0.0.0/0"]}, "must not contain the internet"),
    ("api-internet-ipv6", {"api_allowed_cidrs": ["::/0"]}, "must not contain the internet"),
    ("api-huge-range", {"api_allowed_cidrs": ["0.0.0.0/1"]}, "must not contain the internet"),
    ("api-empty", {"api_allowed_cidrs": []}, "needs at least one CIDR"),
    ("api-not-a-cidr", {"api_allowed_cidrs": ["my laptop"]}, "must be a CIDR"),
    ("ssh-internet", {"worker_ssh_allowed_cidrs": ["0.0.0.0/0"]}, "SSH from the internet"),
    ("ssh-bastion", {"worker_ssh_allowed_cidrs": ["10.0.3.0/24"]}, None),
]

ENV_ONLY_CASES = [
    ("pods-inside-vcn", {"pods_cidr": "10.0.128.0/17"}, "does not overlap vcn_cidr"),
    ("pods-around-vcn", {"pods_cidr": "10.0.0.0/8"}, "does not overlap vcn_cidr"),
    ("services-inside-pods", {"services_cidr": "10.244.16.0/20"}, "overlaps neither"),
    ("pods-elsewhere", {"pods_cidr": "172.16.0.0/16", "services_cidr": "172.17.0.0/16"}, None),
]


def assert_case(
    config: PureConfig, base: dict[str, Any], overrides: dict[str, Any], expected: str | None
) -> None:
    accepted, output = config.plan({**base, **overrides})
    if expected is None:
        assert accepted, f"valid input refused:\n{output}"
    else:
        assert not accepted, f"input accepted but must be refused ({expected})"
        assert "Invalid value for variable" in output, output
        assert expected in unified(output), output


@pytest.mark.parametrize(
    ("case", "overrides", "expected"), BUDGET_CASES, ids=[c[0] for c in BUDGET_CASES]
)
def test_env_budget_validation(
    env_vars_cfg: PureConfig, env_base: dict, case: str, overrides: dict, expected: str | None
) -> None:
    assert_case(env_vars_cfg, env_base, overrides, expected)


@pytest.mark.parametrize(
    ("case", "overrides", "expected"), BUDGET_CASES, ids=[c[0] for c in BUDGET_CASES]
)
def test_oke_module_budget_validation(
    oke_vars_cfg: PureConfig, case: str, overrides: dict, expected: str | None
) -> None:
    assert_case(oke_vars_cfg, OKE_BASE, overrides, expected)


@pytest.mark.parametrize(
    ("case", "overrides", "expected"),
    API_CIDR_CASES + ENV_ONLY_CASES,
    ids=[c[0] for c in API_CIDR_CASES + ENV_ONLY_CASES],
)
def test_env_network_validation(
    env_vars_cfg: PureConfig, env_base: dict, case: str, overrides: dict, expected: str | None
) -> None:
    assert_case(env_vars_cfg, env_base, overrides, expected)


NETWORK_ONLY_CASES = [
    (
        "subnet-outside-vcn",
        {
            "subnet_cidrs": {
                "api_endpoint": "10.0.0.0/28",
                "workers": "10.1.1.0/24",
                "load_balancers": "10.0.2.0/24",
            }
        },
        "inside vcn_cidr",
    ),
    (
        "subnet-host-address",
        {
            "subnet_cidrs": {
                "api_endpoint": "10.0.0.5/28",
                "workers": "10.0.1.0/24",
                "load_balancers": "10.0.2.0/24",
            }
        },
        "network address",
    ),
    ("lb-listener-on-ssh", {"lb_ingress_ports": [443, 22]}, "outside 22, 6443"),
    ("lb-listener-on-nodeport", {"lb_ingress_ports": [30080]}, "NodePort range"),
]


@pytest.mark.parametrize(
    ("case", "overrides", "expected"),
    API_CIDR_CASES + NETWORK_ONLY_CASES,
    ids=[c[0] for c in API_CIDR_CASES + NETWORK_ONLY_CASES],
)
def test_network_module_validation(
    network_cfg: PureConfig, case: str, overrides: dict, expected: str | None
) -> None:
    assert_case(network_cfg, NETWORK_BASE, overrides, expected)


def _buckets_with(**changes: Any) -> dict[str, Any]:
    buckets = json.loads(json.dumps(VALID_BUCKETS))
    for key, value in changes.items():
        buckets[key] = value
    return buckets


STORAGE_CASES = [
    ("valid", {}, None),
    (
        "versioning-with-retention",
        {
            "buckets": _buckets_with(
                worm={
                    "versioning": True,
                    "retention_days": 30,
                    "lifecycle_rules": [
                        {"name": "expire", "days": 30},
                        {
                            "name": "expire-previous",
                            "target": "previous-object-versions",
                            "days": 7,
                        },
                    ],
                }
            )
        },
        "does not allow versioning together with a retention rule",
    ),
    (
        "no-lifecycle-rules",
        {"buckets": _buckets_with(empty={"lifecycle_rules": []})},
        "needs at least one DELETE lifecycle rule",
    ),
    (
        "only-abort-rule",
        {
            "buckets": _buckets_with(
                keep={
                    "lifecycle_rules": [
                        {
                            "name": "abort",
                            "action": "ABORT",
                            "target": "multipart-uploads",
                            "days": 1,
                        }
                    ]
                }
            )
        },
        "Missing on: keep",
    ),
    (
        "versions-never-expire",
        {
            "buckets": _buckets_with(
                data={"versioning": True, "lifecycle_rules": [{"name": "expire", "days": 7}]}
            )
        },
        "needs a rule that deletes previous-object-versions",
    ),
    (
        "archive-does-not-free-space",
        {
            "buckets": _buckets_with(
                cold={
                    "lifecycle_rules": [
                        {"name": "expire", "days": 9},
                        {"name": "cold", "action": "ARCHIVE", "days": 1},
                    ]
                }
            )
        },
        "ARCHIVE and INFREQUENT_ACCESS are not offered",
    ),
    (
        "delete-before-retention-ends",
        {
            "buckets": _buckets_with(
                worm={"retention_days": 30, "lifecycle_rules": [{"name": "expire", "days": 10}]}
            )
        },
        "cannot be shorter than the bucket's retention_days",
    ),
    ("s3-user-without-email", {"s3_user_email": None}, "must be an e-mail address"),
    ("no-s3-credentials-no-email", {"s3_user_email": None, "create_s3_credentials": False}, None),
]


@pytest.mark.parametrize(
    ("case", "overrides", "expected"), STORAGE_CASES, ids=[c[0] for c in STORAGE_CASES]
)
def test_storage_module_validation(
    storage_vars_cfg: PureConfig, case: str, overrides: dict, expected: str | None
) -> None:
    assert_case(storage_vars_cfg, STORAGE_BASE, overrides, expected)


# --------------------------------------------------------------------------- #
# Network exposure: the evaluated NSG rule table
# --------------------------------------------------------------------------- #


def _overlaps(low: int, high: int, ranges: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    return [r for r in ranges if low <= r[1] and r[0] <= high]


def _is_internet(peer: str) -> bool:
    try:
        return ipaddress.ip_network(peer, strict=False).prefixlen < 8
    except ValueError:
        return False


def _port_range(rule: dict[str, Any]) -> tuple[int, int] | None:
    """Destination port range, None for ICMP."""
    if rule["protocol"] == "icmp":
        return None
    if rule["protocol"] == "all" or rule.get("port_min") is None:
        return (0, 65535)
    return (int(rule["port_min"]), int(rule["port_max"]))


def rule_violations(rules: dict[str, dict[str, Any]]) -> list[str]:
    """Least-privilege checks of an NSG rule table (see modules/network/rules.tf)."""
    problems = []
    for key, rule in rules.items():
        ports = _port_range(rule)
        if (
            rule["direction"] == "INGRESS"
            and rule["peer_type"] == "CIDR_BLOCK"
            and _is_internet(rule["peer"])
        ):
            if ports is None:
                if (rule.get("icmp_type"), rule.get("icmp_code")) != (3, 4):
                    problems.append(
                        f"{key}: ICMP from the internet other than path MTU discovery (3/4)"
                    )
                continue
            hits = _overlaps(*ports, SENSITIVE_PORTS)
            if hits:
                problems.append(
                    f"{key}: internet ingress to sensitive ports {hits} "
                    "(SSH, API, kubelet, NodePorts)"
                )
            if rule["nsg"] != "load_balancers":
                problems.append(
                    f"{key}: only the load balancer NSG may accept traffic from the internet"
                )
        is_lb_to_workers = (
            rule["direction"] == "INGRESS"
            and rule["nsg"] == "workers"
            and rule["peer"] == "load_balancers"
        ) or (
            rule["direction"] == "EGRESS"
            and rule["nsg"] == "load_balancers"
            and rule["peer"] == "workers"
        )
        if is_lb_to_workers:
            allowed = (NODE_PORTS, (KUBE_PROXY_HEALTH_PORT, KUBE_PROXY_HEALTH_PORT))
            if ports is None or not any(a[0] <= ports[0] and ports[1] <= a[1] for a in allowed):
                problems.append(
                    f"{key}: load balancer to workers must stay within the NodePort range "
                    "(or 10256)"
                )
    return problems


# (owner NSG, direction, protocol, peer, port or "icmp 3/4")
REQUIRED_OKE_PATHS = [
    ("control_plane", "INGRESS", "tcp", "workers", 6443),
    ("control_plane", "INGRESS", "tcp", "workers", 12250),
    ("control_plane", "INGRESS", "icmp", "workers", "3/4"),
    ("workers", "EGRESS", "tcp", "control_plane", 6443),
    ("workers", "EGRESS", "tcp", "control_plane", 12250),
    ("workers", "EGRESS", "icmp", "control_plane", "3/4"),
    ("workers", "INGRESS", "tcp", "control_plane", 10250),
    ("control_plane", "EGRESS", "tcp", "workers", 10250),
    ("workers", "INGRESS", "tcp", "load_balancers", 30000),
    ("load_balancers", "EGRESS", "tcp", "workers", 32767),
]


def missing_oke_paths(rules: dict[str, dict[str, Any]]) -> list[tuple]:
    def allows(rule: dict[str, Any], path: tuple) -> bool:
        nsg, direction, protocol, peer, port = path
        if (rule["nsg"], rule["direction"], rule["peer"]) != (nsg, direction, peer):
            return False
        if rule["protocol"] == "all":
            return True
        if rule["protocol"] != protocol:
            return False
        if protocol == "icmp":
            return rule.get("icmp_type") in (None, 3) and rule.get("icmp_code") in (None, 4)
        low, high = _port_range(rule) or (0, -1)
        return low <= port <= high

    return [
        path
        for path in REQUIRED_OKE_PATHS
        if not any(allows(rule, path) for rule in rules.values())
    ]


def test_nsg_rules_expose_nothing_but_the_load_balancer(network_cfg: PureConfig) -> None:
    rules = network_cfg.evaluate("local.nsg_rules", NETWORK_BASE)
    assert len(rules) > 20
    assert rule_violations(rules) == []
    internet_ingress = {
        k
        for k, r in rules.items()
        if r["direction"] == "INGRESS" and _is_internet(r["peer"]) and r["protocol"] != "icmp"
    }
    assert internet_ingress == {"load_balancers-in-80-0.0.0.0/0", "load_balancers-in-443-0.0.0.0/0"}


def test_nsg_rules_keep_the_paths_oke_needs(network_cfg: PureConfig) -> None:
    rules = network_cfg.evaluate("local.nsg_rules", NETWORK_BASE)
    assert missing_oke_paths(rules) == []


def cidr_sources(rules: dict[str, dict[str, Any]], port: int) -> list[str]:
    """CIDRs that may open TCP connections to `port` (NSG peers excluded)."""
    return sorted(
        rule["peer"]
        for rule in rules.values()
        if rule["direction"] == "INGRESS"
        and rule["peer_type"] == "CIDR_BLOCK"
        and rule["protocol"] in ("tcp", "all")
        and _overlaps(*(_port_range(rule) or (0, -1)), ((port, port),))
    )


def test_api_reachable_only_from_allowed_cidrs(network_cfg: PureConfig) -> None:
    cidrs = ["198.51.100.7/32", "203.0.113.0/24"]
    rules = network_cfg.evaluate("local.nsg_rules", {**NETWORK_BASE, "api_allowed_cidrs": cidrs})
    assert cidr_sources(rules, 6443) == cidrs


def test_no_ssh_by_default_and_only_from_allowed_cidrs(network_cfg: PureConfig) -> None:
    assert cidr_sources(network_cfg.evaluate("local.nsg_rules", NETWORK_BASE), 22) == []
    with_bastion = network_cfg.evaluate(
        "local.nsg_rules", {**NETWORK_BASE, "worker_ssh_allowed_cidrs": ["10.0.3.0/24"]}
    )
    assert cidr_sources(with_bastion, 22) == ["10.0.3.0/24"]
    assert rule_violations(with_bastion) == []


def test_rule_checks_fail_on_open_fixture(terraform_bin: str, tmp_path: Path) -> None:
    broken = PureConfig(
        terraform_bin,
        tmp_path / "open",
        [MODULES / "network" / "variables.tf", FIXTURES / "network-rules-open" / "rules.tf"],
    )
    rules = broken.evaluate("local.nsg_rules", NETWORK_BASE)
    problems = "\n".join(rule_violations(rules))
    assert (
        "control_plane-in-internet-api: internet ingress to sensitive ports [(6443, 6443)]"
        in problems
    )
    assert (
        "workers-in-internet-nodeports: internet ingress to sensitive ports [(30000, 32767)]"
        in problems
    )
    assert "workers-in-internet-ssh: internet ingress" in problems
    assert "workers-in-lb-everything: load balancer to workers" in problems
    missing = missing_oke_paths(rules)
    assert ("control_plane", "INGRESS", "tcp", "workers", 12250) in missing


def network_static_violations(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """Security lists stay closed, subnets name their lists, NSG rules all come from the table."""
    problems = []
    for _, kind, name, body in iter_resources(docs):
        if kind in ("oci_core_security_list", "oci_core_default_security_list"):
            ingress = blocks(body, "ingress_security_rules") + dynamic_blocks(
                body, "ingress_security_rules"
            )
            if kind == "oci_core_default_security_list" and ingress:
                problems.append(
                    f"{kind}.{name}: the default security list must have no ingress rules"
                )
            for rule in blocks(body, "ingress_security_rules"):
                if _is_internet(str(rule.get("source", ""))):
                    problems.append(f"{kind}.{name}: ingress from {rule['source']}")
        if kind == "oci_core_subnet" and "security_list_ids" not in body:
            problems.append(
                f"oci_core_subnet.{name}: no security_list_ids, so the VCN default list "
                "(SSH from 0.0.0.0/0) applies"
            )
        if (
            kind == "oci_core_network_security_group_security_rule"
            and body.get("for_each") != "${local.nsg_rules}"
        ):
            problems.append(
                f"{kind}.{name}: NSG rules must come from local.nsg_rules (checked offline)"
            )
    return problems


def test_network_module_static_rules() -> None:
    docs = load_dir(MODULES / "network")
    kinds = {kind for _, kind, _, _ in iter_resources(docs)}
    for needed in (
        "oci_core_vcn",
        "oci_core_internet_gateway",
        "oci_core_nat_gateway",
        "oci_core_service_gateway",
        "oci_core_default_security_list",
        "oci_core_network_security_group",
        "oci_core_network_security_group_security_rule",
    ):
        assert needed in kinds
    assert network_static_violations(docs) == []


def test_network_static_check_fails_on_open_security_lists() -> None:
    problems = "\n".join(network_static_violations(load_dir(FIXTURES / "security-list-open")))
    assert "default security list must have no ingress rules" in problems
    assert "oci_core_security_list.workers: ingress from 0.0.0.0/0" in problems
    assert "oci_core_subnet.workers: no security_list_ids" in problems


# --------------------------------------------------------------------------- #
# OKE: free cluster type, A1 shape, image selection
# --------------------------------------------------------------------------- #


def cluster_violations(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    problems = []
    clusters = list(iter_resources(docs, "oci_containerengine_cluster"))
    pools = list(iter_resources(docs, "oci_containerengine_node_pool"))
    if not clusters or not pools:
        problems.append("expected one cluster and one node pool")
    for _, _, name, body in clusters:
        if body.get("type") != "BASIC_CLUSTER":
            problems.append(
                f"cluster {name}: type must be BASIC_CLUSTER (enhanced clusters are billed)"
            )
        cni = [b.get("cni_type") for b in blocks(body, "cluster_pod_network_options")]
        if cni != ["FLANNEL_OVERLAY"]:
            problems.append(f"cluster {name}: CNI must be FLANNEL_OVERLAY, got {cni}")
    for _, _, name, body in pools:
        if body.get("node_shape") != "VM.Standard.A1.Flex":
            problems.append(
                f"node pool {name}: shape must be VM.Standard.A1.Flex (Always Free), "
                f"got {body.get('node_shape')}"
            )
        details = blocks(body, "node_config_details")
        pod_cni = [
            b.get("cni_type")
            for d in details
            for b in blocks(d, "node_pool_pod_network_option_details")
        ]
        if pod_cni != ["FLANNEL_OVERLAY"]:
            problems.append(f"node pool {name}: pod network must be FLANNEL_OVERLAY, got {pod_cni}")
        sources = blocks(body, "node_source_details")
        if not sources or sources[0].get("image_id") != "${terraform_data.node_image.output}":
            problems.append(
                f"node pool {name}: image_id must be terraform_data.node_image.output "
                "(the checked selection, pinned in the state)"
            )
    return problems


def test_oke_module_is_free_basic_cluster_on_a1() -> None:
    docs = load_dir(MODULES / "oke")
    assert cluster_violations(docs) == []
    local_values = all_locals(docs)
    assert (
        local_values["node_pool_sources"]
        == "${data.oci_containerengine_node_pool_option.this.sources}"
    )
    data_sources = [name for _, doc in docs for entry in doc.get("data", []) for name in entry]
    assert "oci_containerengine_node_pool_option" in data_sources


def test_cluster_check_fails_on_paid_cluster() -> None:
    problems = "\n".join(cluster_violations(load_dir(FIXTURES / "oke-paid-cluster")))
    assert "BASIC_CLUSTER" in problems
    assert "FLANNEL_OVERLAY, got ['OCI_VCN_IP_NATIVE']" in problems
    assert "VM.Standard.A1.Flex" in problems


ARM_OKE_1_34_1 = [
    "Oracle-Linux-9.6-aarch64-2025.09.16-0-OKE-1.34.1-1234",
    "Oracle-Linux-9.6-aarch64-2025.01.31-0-OKE-1.34.1-758",
    "Oracle-Linux-9.5-aarch64-2024.05.29-0-OKE-1.34.1-700",
]
NOT_ARM_OKE_1_34_1 = [
    "Oracle-Linux-9.6-2025.09.16-0-OKE-1.34.1-1234",  # x86_64
    "Oracle-Linux-9.6-Gen2-GPU-2025.09.16-0-OKE-1.34.1-1234",  # x86_64 + GPU
    "Oracle-Linux-9.6-aarch64-2025.09.16-0-OKE-1.33.1-1234",  # other Kubernetes version
    "Oracle-Linux-9.6-aarch64-2025.09.16-0-OKE-1.34.10-1234",  # 1.34.10 is not 1.34.1
    "Oracle-Linux-9.6-aarch64-2025.09.16-0",  # plain image, no OKE components
    "Oracle-Linux-7.9-aarch64-2023.01.31-0-OKE-1.34.1-500",  # Oracle Linux 7
    # Oracle Linux 8 (node_os_major_version is 9)
    "Oracle-Linux-8.10-aarch64-2025.09.16-0-OKE-1.34.1-1234",
    "Canonical-Ubuntu-22.04-aarch64-2025.09.16-0-OKE-1.34.1-1234",
]

REALISTIC_SOURCES = [
    {
        "source_type": "IMAGE",
        "source_name": "Oracle-Linux-9.6-2025.10.20-0-OKE-1.34.1-1300",
        "image_id": "ocid1.image.oc1..x86-newest",
    },
    {
        "source_type": "IMAGE",
        "source_name": "Oracle-Linux-9.6-Gen2-GPU-2025.10.20-0-OKE-1.34.1-1300",
        "image_id": "ocid1.image.oc1..gpu-newest",
    },
    {
        "source_type": "IMAGE",
        "source_name": "Oracle-Linux-9.6-aarch64-2025.10.20-0-OKE-1.33.1-1300",
        "image_id": "ocid1.image.oc1..arm-1-33",
    },
    {
        "source_type": "IMAGE",
        "source_name": "Oracle-Linux-9.5-aarch64-2024.05.29-0-OKE-1.34.1-700",
        "image_id": "ocid1.image.oc1..arm-ol89",
    },
    {
        "source_type": "IMAGE",
        "source_name": "Oracle-Linux-9.6-aarch64-2025.09.16-0-OKE-1.34.1-1234",
        "image_id": "ocid1.image.oc1..arm-newest",
    },
    {
        "source_type": "IMAGE",
        "source_name": "Oracle-Linux-9.6-aarch64-2025.01.31-0-OKE-1.34.1-758",
        "image_id": "ocid1.image.oc1..arm-older",
    },
    {
        "source_type": "IMAGE",
        "source_name": "Oracle-Linux-9.6-aarch64-2025.09.16-0",
        "image_id": "ocid1.image.oc1..arm-plain",
    },
]


def image_harness(
    terraform: str, workdir: Path, locals_file: Path, sources: list[dict[str, str]]
) -> PureConfig:
    sources_hcl = (
        "locals {\n  node_pool_sources = jsondecode(<<-EOT\n"
        + json.dumps(sources)
        + "\nEOT\n  )\n}\n"
    )
    return PureConfig(
        terraform,
        workdir,
        [MODULES / "oke" / "variables.tf", locals_file],
        extra={"sources.tf": sources_hcl},
    )


def image_regex_violations(matches: dict[str, bool]) -> list[str]:
    problems = [
        f"ARM OKE image not matched: {name}" for name in ARM_OKE_1_34_1 if not matches.get(name)
    ]
    problems += [f"wrong image matched: {name}" for name in NOT_ARM_OKE_1_34_1 if matches.get(name)]
    return problems


def _match_expression() -> str:
    names = json.dumps(ARM_OKE_1_34_1 + NOT_ARM_OKE_1_34_1)
    return (
        f"{{ for name in {names} : name => can(regex(local.node_image_source_name_regex, name)) }}"
    )


def test_image_regex_selects_arm_oke_images_only(terraform_bin: str, tmp_path: Path) -> None:
    harness = image_harness(
        terraform_bin, tmp_path / "image", MODULES / "oke" / "locals.tf", REALISTIC_SOURCES
    )
    matches = harness.evaluate(_match_expression(), OKE_BASE)
    assert image_regex_violations(matches) == []

    # The same pattern under Python's re (RE2 and re agree on this subset), so the
    # regex documented in docs/terraform.md can be tried anywhere.
    pattern = harness.evaluate("local.node_image_source_name_regex", OKE_BASE)
    assert pattern == (
        r"^Oracle-Linux-(9\.[0-9]+)-aarch64-([0-9]{4}\.[0-9]{2}\.[0-9]{2})"
        r"-[0-9]+-OKE-1\.34\.1-[0-9]+$"
    )
    assert {name: bool(re.search(pattern, name)) for name in matches} == matches


def test_image_selection_picks_newest_arm_image(terraform_bin: str, tmp_path: Path) -> None:
    harness = image_harness(
        terraform_bin, tmp_path / "image", MODULES / "oke" / "locals.tf", REALISTIC_SOURCES
    )
    assert harness.evaluate("local.node_image_id", OKE_BASE) == "ocid1.image.oc1..arm-newest"
    assert (
        harness.evaluate("local.node_image_name", OKE_BASE)
        == "Oracle-Linux-9.6-aarch64-2025.09.16-0-OKE-1.34.1-1234"
    )
    override = {**OKE_BASE, "node_image_id": "ocid1.image.oc1..pinned"}
    assert harness.evaluate("local.node_image_id", override) == "ocid1.image.oc1..pinned"
    # No ARM image for this version: null, which the node pool precondition refuses.
    assert (
        harness.evaluate("local.node_image_id", {**OKE_BASE, "kubernetes_version": "v1.35.0"})
        is None
    )


def test_image_regex_check_fails_on_loose_regex(terraform_bin: str, tmp_path: Path) -> None:
    harness = image_harness(
        terraform_bin,
        tmp_path / "loose",
        FIXTURES / "oke-image-regex-loose" / "locals.tf",
        REALISTIC_SOURCES,
    )
    problems = "\n".join(image_regex_violations(harness.evaluate(_match_expression(), OKE_BASE)))
    assert "wrong image matched: Oracle-Linux-9.6-2025.09.16-0-OKE-1.34.1-1234" in problems
    assert "wrong image matched: Oracle-Linux-9.6-Gen2-GPU-2025.09.16-0-OKE-1.34.1-1234" in problems
    assert "OKE-1.34.10" in problems


# --------------------------------------------------------------------------- #
# Object Storage
# --------------------------------------------------------------------------- #


def bucket_map_violations(buckets: dict[str, Any]) -> list[str]:
    """Checks of an evaluated bucket map (envs/always-free local.buckets)."""
    problems = []
    for key, bucket in buckets.items():
        if key.startswith("_"):
            continue
        rules = bucket.get("lifecycle_rules") or []
        if not any(rule["action"] == "DELETE" for rule in rules):
            problems.append(f"{key}: no DELETE lifecycle rule")
        if bucket.get("versioning") and bucket.get("retention_days") is not None:
            problems.append(f"{key}: versioning combined with a retention rule")
        if bucket.get("versioning") and not any(
            rule["action"] == "DELETE" and rule["target"] == "previous-object-versions"
            for rule in rules
        ):
            problems.append(f"{key}: versioned but previous versions never expire")
    return problems


def test_env_buckets_have_lifecycle_rules_and_no_versioned_retention(
    env_vars_cfg: PureConfig, env_base: dict
) -> None:
    buckets = env_vars_cfg.evaluate("local.buckets", env_base)
    assert set(buckets) == {"datalake", "backups", "erasure-log", "tfstate"}
    assert bucket_map_violations(buckets) == []
    assert not buckets["tfstate"]["s3_access"], (
        "in-cluster credentials must not reach the Terraform state"
    )
    without_state = env_vars_cfg.evaluate(
        "local.buckets", {**env_base, "create_tfstate_bucket": False}
    )
    assert set(without_state) == {"datalake", "backups", "erasure-log"}


@pytest.mark.parametrize("backup_days", [7, 35, 90])
def test_erasure_log_outlives_every_backup(
    env_vars_cfg: PureConfig, env_base: dict, backup_days: int
) -> None:
    """A restore applies the erasure log (src/healthplatform/me/erasure_log.py): an entry
    must stay, undeletable, for as long as a backup taken before the erasure exists."""
    buckets = env_vars_cfg.evaluate(
        "local.buckets", {**env_base, "backup_retention_days": backup_days}
    )
    log, backups = buckets["erasure-log"], buckets["backups"]
    backup_expiry = max(r["days"] for r in backups["lifecycle_rules"] if r["action"] == "DELETE")
    assert backup_expiry == backup_days
    assert log["s3_access"] and not log["versioning"]
    assert log["retention_days"] > backup_expiry
    assert all(
        r["days"] >= log["retention_days"]
        for r in log["lifecycle_rules"]
        if r["action"] == "DELETE" and r["target"] == "objects"
    )


def test_env_buckets_pass_the_storage_module_validations(
    env_vars_cfg: PureConfig, env_base: dict, storage_vars_cfg: PureConfig
) -> None:
    buckets = env_vars_cfg.evaluate("local.buckets", env_base)
    accepted, output = storage_vars_cfg.plan({**STORAGE_BASE, "buckets": buckets})
    assert accepted, output


def test_bucket_map_check_fails_on_broken_fixture() -> None:
    problems = bucket_map_violations(json.loads((FIXTURES / "buckets-broken.json").read_text()))
    assert "archive: versioning combined with a retention rule" in problems
    assert "forever: no DELETE lifecycle rule" in problems
    assert "versions-pile-up: versioned but previous versions never expire" in problems


def bucket_resource_violations(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    problems = []
    policies = list(iter_resources(docs, "oci_objectstorage_object_lifecycle_policy"))
    for _, _, name, body in iter_resources(docs, "oci_objectstorage_bucket"):
        if body.get("access_type") != "NoPublicAccess":
            problems.append(
                f"bucket {name}: access_type must be NoPublicAccess, got {body.get('access_type')}"
            )
        retention = blocks(body, "retention_rules")
        dynamic_retention = dynamic_blocks(body, "retention_rules")
        if body.get("versioning") == "Enabled" and (retention or dynamic_retention):
            problems.append(f"bucket {name}: versioning combined with a retention rule")
        if dynamic_retention:
            guards = " ".join(
                p.get("condition", "")
                for lc in blocks(body, "lifecycle")
                for p in blocks(lc, "precondition")
            )
            if "versioning" not in guards or "retention" not in guards:
                problems.append(
                    f"bucket {name}: dynamic retention rules need a precondition "
                    "that excludes versioning"
                )
        covered = any(
            (body.get("for_each") is not None and p_body.get("for_each") == body.get("for_each"))
            or f"oci_objectstorage_bucket.{name}" in str(p_body.get("bucket", ""))
            for _, _, _, p_body in policies
        )
        if not covered:
            problems.append(f"bucket {name}: no oci_objectstorage_object_lifecycle_policy")
    for _, _, name, body in policies:
        if not blocks(body, "rules") and not dynamic_blocks(body, "rules"):
            problems.append(f"lifecycle policy {name}: no rules")
    return problems


def test_storage_module_buckets_private_with_lifecycle() -> None:
    docs = load_dir(MODULES / "storage")
    assert list(iter_resources(docs, "oci_objectstorage_bucket"))
    assert bucket_resource_violations(docs) == []
    kinds = {kind for _, kind, _, _ in iter_resources(docs)}
    assert "oci_identity_customer_secret_key" in kinds
    outputs = {name: body for _, name, body in iter_top(docs, "output")}
    for secret in ("s3_access_key_id", "s3_secret_access_key"):
        assert outputs[secret].get("sensitive") is True


def test_bucket_resource_check_fails_on_broken_fixture() -> None:
    problems = "\n".join(bucket_resource_violations(load_dir(FIXTURES / "storage-broken")))
    assert "bucket public: access_type must be NoPublicAccess" in problems
    assert "bucket worm: versioning combined with a retention rule" in problems
    assert "bucket worm: no oci_objectstorage_object_lifecycle_policy" in problems


# --------------------------------------------------------------------------- #
# Outputs and the generated values file the Helm charts read
# --------------------------------------------------------------------------- #

REQUIRED_ENV_OUTPUTS = {
    "kubeconfig_command": False,
    "cluster_id": False,
    "region": False,
    "bucket_names": False,
    "s3_endpoint": False,
    "platform_values_file": False,
    "s3_access_key_id": True,
    "s3_secret_access_key": True,
}

# Keys of generated/platform-values.yaml; documented in docs/terraform.md.
REQUIRED_VALUE_KEYS = [
    "objectStore.endpoint",
    "objectStore.region",
    "objectStore.namespace",
    "objectStore.forcePathStyle",
    "objectStore.buckets.dataLake",
    "objectStore.buckets.backups",
    "objectStore.buckets.erasureLog",
    "cluster.name",
    "cluster.id",
    "cluster.kubernetesVersion",
    "loadBalancer.nsgId",
    "loadBalancer.subnetId",
]


def env_output_violations(directory: Path) -> list[str]:
    docs = load_dir(directory)
    problems = []
    outputs = {name: body for _, name, body in iter_top(docs, "output")}
    for name, sensitive in REQUIRED_ENV_OUTPUTS.items():
        if name not in outputs:
            problems.append(f"missing output {name}")
        elif sensitive and outputs[name].get("sensitive") is not True:
            problems.append(f"output {name} must be sensitive")
    values = all_locals(docs).get("platform_values")
    leaves = leaf_paths(values) if isinstance(values, dict) else {}
    problems += [f"platform values lack {key}" for key in REQUIRED_VALUE_KEYS if key not in leaves]
    problems += [
        f"platform values hold a secret: {key}"
        for key, value in leaves.items()
        if re.search(r"secret|access_key", str(value), re.I)
    ]
    files = [body for _, _, _, body in iter_resources(docs, "local_file")]
    if not any(
        body.get("content", "").find("yamlencode(local.platform_values)") >= 0 for body in files
    ):
        problems.append("no local_file writes yamlencode(local.platform_values)")
    return problems


def test_env_outputs_and_platform_values() -> None:
    assert env_output_violations(ENV) == []
    kubeconfig = {name: body for _, name, body in iter_top(load_dir(ENV), "output")}[
        "kubeconfig_command"
    ]["value"]
    assert "oci ce cluster create-kubeconfig" in kubeconfig and "--cluster-id" in kubeconfig


def test_env_output_check_fails_on_broken_fixture() -> None:
    problems = env_output_violations(FIXTURES / "env-outputs-missing")
    assert "missing output s3_endpoint" in problems
    assert "missing output kubeconfig_command" in problems
    assert "output s3_secret_access_key must be sensitive" in problems
    assert "platform values lack objectStore.region" in problems
    assert "platform values lack objectStore.buckets.backups" in problems
    assert "platform values hold a secret: objectStore.secretAccessKey" in problems
    assert "no local_file writes yamlencode(local.platform_values)" in problems


def test_generated_and_secret_files_are_gitignored() -> None:
    values_path = all_locals(load_dir(ENV))["platform_values_path"]
    assert "generated/platform-values.yaml" in values_path
    env = ENV.relative_to(REPO)
    for path in (
        env / "generated" / "platform-values.yaml",
        env / "terraform.tfvars",
        env / "terraform.tfstate",
        env / "terraform.tfstate.backup",
        env / "backend.tf",
        env / ".terraform" / "providers",
    ):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", str(path)], cwd=REPO, check=False
        )
        assert ignored.returncode == 0, f"{path} must be gitignored"


def test_docs_list_every_value_key() -> None:
    text = DOCS.read_text()
    values = leaf_paths(all_locals(load_dir(ENV))["platform_values"])
    undocumented = [key for key in values if f"`{key}`" not in text]
    assert undocumented == [], "document these keys in docs/terraform.md"


# --------------------------------------------------------------------------- #
# No secrets committed
# --------------------------------------------------------------------------- #


def test_no_state_or_secrets_tracked() -> None:
    if not (REPO / ".git").exists():
        pytest.fail("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "deploy/terraform"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    forbidden = re.compile(r"(\.tfstate|terraform\.tfvars$|/backend\.tf$|/generated/|\.terraform/)")
    assert [path for path in tracked if forbidden.search(path)] == []
    secret = re.compile(
        r"BEGIN [A-Z ]*PRIVATE KEY|ocid1\.user\.oc1\.\.[a-z0-9]{40,}|aws_secret_access_key\s*="
    )
    for path in TF_ROOT.rglob("*"):
        if path.is_file() and ".terraform" not in path.parts:
            assert not secret.search(path.read_text(errors="ignore")), path


# --------------------------------------------------------------------------- #
# checkov
# --------------------------------------------------------------------------- #


def run_checkov(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CHECKOV_SCRIPT), str(target.relative_to(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_checkov_passes() -> None:
    result = run_checkov(TF_ROOT)
    assert result.returncode == 0, (
        f"scripts/checkov.sh failed (rc {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    assert "Passed checks:" in result.stdout, result.stdout + result.stderr


def test_checkov_fails_on_public_bucket() -> None:
    result = run_checkov(FIXTURES / "checkov-public-bucket")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CKV_OCI_10" in result.stdout


def checkov_skips() -> list[str]:
    text = (TF_ROOT / ".checkov.yaml").read_text()
    return re.findall(r"^\s*-\s*(CKV2?_[A-Z0-9_]+)", text, re.M)


def undocumented_skips(skips: list[str], doc: str) -> list[str]:
    section = (
        doc.split("## Accepted checkov findings", 1)[-1]
        if "## Accepted checkov findings" in doc
        else ""
    )
    return [check for check in skips if check not in section]


def test_every_checkov_skip_is_justified_in_docs() -> None:
    skips = checkov_skips()
    assert skips, ".checkov.yaml lists no skipped checks; drop this test or the file"
    assert undocumented_skips(skips, DOCS.read_text()) == []
    assert undocumented_skips(["CKV_OCI_999"], DOCS.read_text()) == ["CKV_OCI_999"]
