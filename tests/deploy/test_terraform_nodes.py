"""The node pool as OKE offers it today, and the cost guard (issue 18, item 4).

* Node images: the node-pool options are listed for aarch64 with every patch version
  (``should_list_all_patch_versions``, provider >= 7.26, pinned as the minimum everywhere);
  the Oracle Linux major version is a variable (default 9) passed from the environment.
* The chosen image is kept in the state (``terraform_data.node_image`` with
  ``ignore_changes = [input]``): a newer Oracle image is not a change; a new Kubernetes
  version, OS version or explicit image is (``triggers_replace``).
* Cycling: ``maximum_surge = "0"``, ``maximum_unavailable = "1"``: no third A1 node, and
  docs/terraform.md's upgrade steps say so.
* A budget with an alert rule (OCI Budgets are free) when an email is given.

Every checker runs against a broken copy too and must name the problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.test_terraform_schema import TF_ROOT, labelled, parse

pytestmark = pytest.mark.deploy

DOCS = TF_ROOT.parents[1] / "docs" / "terraform.md"
MIN_PROVIDER = (7, 26, 0)
SCHEMA_PROVIDER = (7, 32, 0)


def one(root: Path, rel: str, kind: str, type_name: str) -> dict[str, Any]:
    found = [body for t, _, body in labelled(parse(root / rel), kind) if t == type_name]
    assert len(found) == 1, f"{rel}: {len(found)} {kind} {type_name}"
    return found[0]


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name) or [{}]
    first: dict[str, Any] = value[0]
    return first


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def provider_problems(root: Path) -> list[str]:
    problems = []
    files = sorted(root.rglob("versions.tf"))
    if not files:
        return ["no versions.tf"]
    for path in files:
        terraform = parse(path)["terraform"][0]
        oci = terraform["required_providers"][0]["oci"]
        constraint = str(oci["version"])
        minimum = re.search(r">=\s*([0-9.]+)", constraint)
        maximum = re.search(r"<\s*([0-9.]+)", constraint)
        where = path.relative_to(root)
        if not minimum or version_tuple(minimum.group(1)) < MIN_PROVIDER:
            problems.append(f"{where}: oracle/oci {constraint!r} allows a provider before 7.26")
        elif version_tuple(minimum.group(1)) > SCHEMA_PROVIDER or (
            maximum and version_tuple(maximum.group(1)) <= SCHEMA_PROVIDER
        ):
            problems.append(f"{where}: oracle/oci {constraint!r} excludes the checked 7.32.0")
    return problems


def image_problems(root: Path) -> list[str]:
    problems = []
    options = one(root, "modules/oke/data.tf", "data", "oci_containerengine_node_pool_option")
    if options.get("should_list_all_patch_versions") is not True:
        problems.append("node-pool options: should_list_all_patch_versions must be true")
    if options.get("node_pool_os_arch") != "AARCH64":
        problems.append("node-pool options: node_pool_os_arch must be AARCH64 (Ampere A1)")
    pin = one(root, "modules/oke/main.tf", "resource", "terraform_data")
    if pin.get("input") != "${local.node_image_id}":
        problems.append("terraform_data.node_image: input must be local.node_image_id")
    ignored = block(pin, "lifecycle").get("ignore_changes") or []
    if "${input}" not in ignored and "input" not in ignored:
        problems.append("terraform_data.node_image: lifecycle ignore_changes must hold input")
    triggers = str(pin.get("triggers_replace"))
    for var in ("var.kubernetes_version", "var.node_os_major_version", "var.node_image_id"):
        if var not in triggers:
            problems.append(f"terraform_data.node_image: triggers_replace lacks {var}")
    env = parse(root / "envs/always-free/main.tf")
    oke = next(body for entry in env["module"] for name, body in entry.items() if name == "oke")
    if oke.get("node_os_major_version") != "${var.node_os_major_version}":
        problems.append("envs/always-free: node_os_major_version is not passed to the module")
    for rel in ("modules/oke/variables.tf", "envs/always-free/variables.tf"):
        variables = {
            name: body for entry in parse(root / rel)["variable"] for name, body in entry.items()
        }
        default = (variables.get("node_os_major_version") or {}).get("default")
        if default != "9":
            problems.append(f"{rel}: node_os_major_version defaults to {default!r}, not 9")
    return problems


def cycling_problems(root: Path) -> list[str]:
    pool = one(root, "modules/oke/main.tf", "resource", "oci_containerengine_node_pool")
    cycling = block(pool, "node_pool_cycling_details")
    wanted = {"is_node_cycling_enabled": True, "maximum_surge": "0", "maximum_unavailable": "1"}
    return [
        f"node_pool_cycling_details.{key} is {cycling.get(key)!r}, must be {value!r}"
        for key, value in wanted.items()
        if cycling.get(key) != value
    ]


def budget_problems(root: Path) -> list[str]:
    problems = []
    budget = one(root, "envs/always-free/budget.tf", "resource", "oci_budget_budget")
    rule = one(root, "envs/always-free/budget.tf", "resource", "oci_budget_alert_rule")
    if budget.get("compartment_id") != "${var.tenancy_ocid}":
        problems.append("budget: must live in the root compartment (var.tenancy_ocid)")
    if budget.get("target_type") != "COMPARTMENT" or budget.get("targets") != [
        "${var.compartment_ocid}"
    ]:
        problems.append("budget: must target the stack's compartment")
    if budget.get("reset_period") != "MONTHLY":
        problems.append("budget: reset_period must be MONTHLY")
    amount, threshold = budget.get("amount"), rule.get("threshold")
    if not isinstance(amount, int | float) or not isinstance(threshold, int | float):
        problems.append("budget: amount and threshold must be numbers")
    elif amount * threshold / 100 > 0.05:
        problems.append(f"budget: alerts only above {amount * threshold / 100} of spend")
    if rule.get("type") != "ACTUAL" or rule.get("threshold_type") != "PERCENTAGE":
        problems.append("alert rule: must fire on ACTUAL spend, threshold in PERCENTAGE")
    if rule.get("recipients") != "${var.budget_alert_email}":
        problems.append("alert rule: recipients must be var.budget_alert_email")
    return problems


def docs_problems(text: str) -> list[str]:
    needed = {
        'maximum_surge = "0"': "the no-surge cycling setting",
        'maximum_unavailable = "1"': "one node at a time",
        "terraform apply -replace=module.oke.terraform_data.node_image": "how to take a new image",
        "should_list_all_patch_versions": "why patch versions are listed",
        "oci_budget_budget": "the budget alarm",
    }
    problems = [
        f"docs/terraform.md lacks {what} ({key})" for key, what in needed.items() if key not in text
    ]
    if re.search(r"surge[s]? a third", text, re.I) and "maximum_surge" not in text:
        problems.append("docs/terraform.md still describes a surge node")
    return problems


CHECKS: dict[str, Callable[[Path], list[str]]] = {
    "provider": provider_problems,
    "image": image_problems,
    "cycling": cycling_problems,
    "budget": budget_problems,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_terraform_holds(name: str) -> None:
    assert CHECKS[name](TF_ROOT) == []


def test_the_docs_match_the_node_pool() -> None:
    assert docs_problems(DOCS.read_text()) == []


BREAKS = {
    "provider": (
        "modules/oke/versions.tf",
        '">= 7.26.0, < 8.0.0"',
        '">= 7.0.0, < 8.0.0"',
        "allows a provider before 7.26",
    ),
    "image": (
        "modules/oke/data.tf",
        "should_list_all_patch_versions = true",
        "should_list_all_patch_versions = false",
        "should_list_all_patch_versions",
    ),
    "image-drift": (
        "modules/oke/main.tf",
        "ignore_changes = [input]",
        "ignore_changes = []",
        "ignore_changes must hold input",
    ),
    "cycling": (
        "modules/oke/main.tf",
        'maximum_surge           = "0"',
        'maximum_surge           = "1"',
        "maximum_surge is '1'",
    ),
    "budget": (
        "envs/always-free/budget.tf",
        'reset_period   = "MONTHLY"',
        'reset_period   = "BIMONTHLY"',
        "reset_period must be MONTHLY",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_each_check_fails_on_a_broken_copy(case: str, tmp_path: Path) -> None:
    rel, old, new, expected = BREAKS[case]
    for path in TF_ROOT.rglob("*.tf"):
        target = tmp_path / path.relative_to(TF_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    text = (tmp_path / rel).read_text()
    assert old in text, f"{rel} no longer has {old!r}"
    (tmp_path / rel).write_text(text.replace(old, new, 1))
    check = CHECKS[case.split("-")[0]]
    assert any(expected in p for p in check(tmp_path)), check(tmp_path)


def test_docs_check_fails_without_the_upgrade_steps() -> None:
    text = DOCS.read_text().replace("maximum_surge", "max_surge")
    assert any("no-surge" in p for p in docs_problems(text))
