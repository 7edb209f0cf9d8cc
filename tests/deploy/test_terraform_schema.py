"""deploy/terraform checked against the real OCI provider's schema (oracle/oci 7.32.0).

`terraform validate` needs the provider binary, which cannot be downloaded here; the schema it
would validate against (`terraform providers schema -json` of a build of the provider, see the
README next to it) is a pinned test artifact (tests/support/artifacts.py). Every resource and
data source of every .tf file is parsed (python-hcl2) and checked:

* its type exists in the provider (or is Terraform's built-in ``terraform_data``);
* every argument is an attribute the schema lets us set (not computed-only), every nested
  block (also ``dynamic "x"`` blocks) is a block type of its parent, recursively;
* every required attribute is set, every block with ``min_items`` is present;
* the ``provider "oci"`` blocks use provider arguments; module calls pass only variables the
  module declares and every variable without a default.

The last test breaks each rule on purpose (a typo in an attribute, in a nested block, in a
type, a missing required argument) and the checker must name it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from tests.support.artifacts import artifact

pytestmark = pytest.mark.deploy

TF_ROOT = Path(__file__).resolve().parents[2] / "deploy" / "terraform"
PROVIDER = "registry.terraform.io/oracle/oci"
SCHEMA_ARTIFACT = "provider-schemas/oci-7.32.0.json"
META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider"})
META_BLOCKS = frozenset({"lifecycle", "provisioner", "connection"})
# Terraform's built-in provider (terraform.io/builtin/terraform), documented arguments.
BUILTIN: dict[str, dict[str, Any]] = {
    "terraform_data": {
        "attributes": {
            "input": {"optional": True},
            "triggers_replace": {"optional": True},
            "output": {"computed": True},
            "id": {"computed": True},
        }
    }
}
# Resource types of other providers, without a schema on these machines: named, never silent.
OTHER_PROVIDERS = {"local_file": "hashicorp/local (its arguments: test_terraform.py)"}

Body = dict[str, Any]


def parse(path: Path) -> Body:
    with path.open() as handle:
        parsed: Body = hcl2.load(
            handle,
            serialization_options=SerializationOptions(
                explicit_blocks=True, strip_string_quotes=True
            ),
        )
    return parsed


def tf_files(root: Path = TF_ROOT) -> list[Path]:
    return sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def load_schema() -> dict[str, Any]:
    schemas: dict[str, Any] = json.loads(artifact(SCHEMA_ARTIFACT).read_text())
    provider: dict[str, Any] = schemas["provider_schemas"][PROVIDER]
    return provider


def is_block(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def body_problems(where: str, body: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Problems of one block body against its schema block (``attributes``, ``block_types``)."""
    attributes: Mapping[str, Any] = schema.get("attributes") or {}
    block_types: Mapping[str, Any] = schema.get("block_types") or {}
    problems: list[str] = []
    seen_blocks: set[str] = set()
    for key, value in body.items():
        if key.startswith("__"):  # python-hcl2's __is_block__, __comments__
            continue
        if key == "dynamic" and isinstance(value, list):
            for dyn in value:
                for label, spec in dyn.items():
                    if label.startswith("__"):
                        continue
                    if label not in block_types:
                        problems.append(f"{where}: dynamic {label!r} is not a block type here")
                        continue
                    seen_blocks.add(label)
                    for content in spec.get("content") or []:
                        problems += body_problems(
                            f"{where}.{label}", content, block_types[label]["block"]
                        )
            continue
        if key in block_types:
            if not is_block(value):
                problems.append(f"{where}: {key!r} is a block, written as an argument")
                continue
            seen_blocks.add(key)
            spec = block_types[key]
            if spec.get("max_items") and len(value) > spec["max_items"]:
                problems.append(
                    f"{where}: {len(value)} {key!r} blocks, at most {spec['max_items']}"
                )
            for item in value:
                problems += body_problems(f"{where}.{key}", item, spec["block"])
        elif key in attributes:
            attr = attributes[key]
            if is_block(value):
                problems.append(f"{where}: {key!r} is an argument, written as a block")
            elif attr.get("computed") and not (attr.get("optional") or attr.get("required")):
                problems.append(f"{where}: {key!r} is computed by the provider, cannot be set")
            elif attr.get("deprecated"):
                problems.append(f"{where}: {key!r} is deprecated in the provider")
        else:
            problems.append(f"{where}: unknown argument or block {key!r}")
    for name, attr in attributes.items():
        if attr.get("required") and name not in body:
            problems.append(f"{where}: required argument {name!r} is missing")
    for name, spec in block_types.items():
        if spec.get("min_items", 0) > 0 and name not in seen_blocks:
            problems.append(f"{where}: required block {name!r} is missing")
    return problems


def without_meta(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in META_ARGUMENTS | META_BLOCKS}


def labelled(doc: Body, kind: str) -> Iterator[tuple[str, str, Body]]:
    for entry in doc.get(kind) or []:
        for type_name, named in entry.items():
            if type_name == "__is_block__":
                continue
            for name, body in named.items():
                if name != "__is_block__":
                    yield type_name, name, body


def file_problems(path: Path, schema: Mapping[str, Any], root: Path = TF_ROOT) -> list[str]:
    doc = parse(path)
    rel = path.relative_to(root)
    problems: list[str] = []
    for kind, schemas in (
        ("resource", schema["resource_schemas"]),
        ("data", schema["data_source_schemas"]),
    ):
        for type_name, name, body in labelled(doc, kind):
            where = f"{rel}: {kind} {type_name}.{name}"
            if kind == "resource" and type_name in OTHER_PROVIDERS:
                continue
            block = (
                BUILTIN.get(type_name)
                if kind == "resource" and type_name in BUILTIN
                else (schemas.get(type_name) or {}).get("block")
            )
            if block is None:
                problems.append(f"{where}: the provider has no {kind} type {type_name!r}")
                continue
            problems += body_problems(where, without_meta(body), block)
    for entry in doc.get("provider") or []:
        for name, body in entry.items():
            if name == "oci":
                clean = {k: v for k, v in body.items() if k != "alias"}
                problems += body_problems(
                    f"{rel}: provider oci", clean, schema["provider"]["block"]
                )
    problems += module_problems(path, doc, root)
    return problems


def module_variables(directory: Path) -> dict[str, bool]:
    """{variable: has a default} of a module directory."""
    found: dict[str, bool] = {}
    for path in directory.glob("*.tf"):
        for entry in parse(path).get("variable") or []:
            for name, body in entry.items():
                if name != "__is_block__":
                    found[name] = "default" in body
    return found


def module_problems(path: Path, doc: Body, root: Path) -> list[str]:
    problems: list[str] = []
    for entry in doc.get("module") or []:
        for name, body in entry.items():
            if name == "__is_block__":
                continue
            where = f"{path.relative_to(root)}: module {name}"
            source = str(body.get("source", ""))
            directory = (path.parent / source).resolve()
            if not source.startswith(".") or not directory.is_dir():
                problems.append(f"{where}: source {source!r} is not a local module")
                continue
            variables = module_variables(directory)
            passed = {k for k in body if not k.startswith("__")} - {"source", "providers"}
            passed -= META_ARGUMENTS
            problems += [
                f"{where}: the module has no variable {v!r}"
                for v in sorted(passed - set(variables))
            ]
            problems += [
                f"{where}: variable {v!r} has no default and is not passed"
                for v, has_default in sorted(variables.items())
                if not has_default and v not in passed
            ]
    return problems


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


def test_every_file_matches_the_provider_schema(schema: dict[str, Any]) -> None:
    files = tf_files()
    assert len(files) >= 15
    problems = [p for path in files for p in file_problems(path, schema)]
    assert problems == []


def test_every_resource_type_is_checked(schema: dict[str, Any]) -> None:
    """No resource slips through as "another provider's" unless it is listed."""
    types = {t for path in tf_files() for t, _, _ in labelled(parse(path), "resource")}
    unchecked = {t for t in types if t not in schema["resource_schemas"] and t not in BUILTIN}
    assert unchecked == set(OTHER_PROVIDERS)


BREAKS = {
    "typo in an attribute": (
        "modules/oke/main.tf",
        'node_shape         = "VM.Standard.A1.Flex"',
        'node_shpae         = "VM.Standard.A1.Flex"',
        "unknown argument or block 'node_shpae'",
    ),
    "typo in a nested block attribute": (
        "modules/oke/main.tf",
        "maximum_surge",
        "maximum_surgee",
        "node_pool_cycling_details: unknown argument or block 'maximum_surgee'",
    ),
    "unknown nested block": (
        "modules/oke/main.tf",
        "node_shape_config {",
        "node_shape_configs {",
        "unknown argument or block 'node_shape_configs'",
    ),
    "unknown resource type": (
        "modules/network/main.tf",
        'resource "oci_core_vcn"',
        'resource "oci_core_vnc"',
        "the provider has no resource type 'oci_core_vnc'",
    ),
    "missing required argument": (
        "modules/oke/main.tf",
        '  node_shape         = "VM.Standard.A1.Flex"\n',
        "",
        "required argument 'node_shape' is missing",
    ),
    "unknown data source argument": (
        "modules/oke/data.tf",
        "should_list_all_patch_versions = true",
        "should_list_all_patches = true",
        "unknown argument or block 'should_list_all_patches'",
    ),
    "module variable that does not exist": (
        "envs/always-free/main.tf",
        'module "oke" {\n',
        'module "oke" {\n  node_colour = "blue"\n',
        "module oke: the module has no variable 'node_colour'",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_the_check_fails_on_a_deliberate_mistake(
    case: str, schema: dict[str, Any], tmp_path: Path
) -> None:
    rel, old, new, expected = BREAKS[case]
    copy = tmp_path / "terraform"
    for path in tf_files():
        target = copy / path.relative_to(TF_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    broken = copy / rel
    text = broken.read_text()
    assert old in text, f"{rel} no longer has {old!r}: update the case"
    broken.write_text(text.replace(old, new, 1))
    problems = [p for path in tf_files(copy) for p in file_problems(path, schema, copy)]
    assert any(expected in p for p in problems), problems
