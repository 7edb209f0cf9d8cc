"""JSON Schemas of the custom resources, derived from the CRDs inside the pinned charts.

    python scripts/derive_crd_schemas.py --artifacts .cache/test-artifacts --helm helm --out DIR

The charts and manifests are the pinned test artifacts (tests/artifacts.lock.json, fetched by
scripts/fetch_test_artifacts.py): the CRDs the cluster really gets. Charts are rendered with
``helm template --include-crds`` (some template their CRDs), manifests are read as they are.
Each served version of each CRD becomes ``<group>/<kind-lowercase>_<version>.json``, the
CRDs-catalog layout, converted the way kubeconform's openapi2jsonschema does, made strict:

* ``additionalProperties: false`` on every object schema with ``properties`` and neither
  ``additionalProperties`` nor ``x-kubernetes-preserve-unknown-fields: true`` (not inside
  ``allOf``/``anyOf``/``oneOf``/``not`` branches, which only constrain declared fields);
* the root declares ``apiVersion`` and ``kind`` as enums of this version and kind, and
  ``metadata`` as any object;
* ``x-kubernetes-int-or-string`` becomes ``oneOf: [string, integer]``;
* ``nullable: true`` adds ``"null"`` to the type (and the enum);
* Go RE2 flag groups Python rejects (``^(?i)(a|b)$``, ``((?i)a|b)``) become scoped groups;
* a combinator branch that rejects a property's ``default`` also requires that property (the
  API server fills the default in before validating, so the branch cannot match without it).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

COMBINATORS = ("allOf", "anyOf", "oneOf", "not")
KUBE_VERSION = "1.34.1"
# Artifacts (paths in tests/artifacts.lock.json) that carry CRDs, and the values that make a
# chart render them.
SOURCES: dict[str, tuple[str, ...]] = {
    "upstream-charts/argo-cd-v3.5.1-core-install.yaml": (),
    "upstream-charts/calico-v3.32.1-policy-only.yaml": (),
    "upstream-charts/cert-manager-v1.21.1.tgz": ("crds.enabled=true",),
    "upstream-charts/cloudnative-pg-0.29.0.tgz": (),
    "upstream-charts/plugin-barman-cloud-0.7.0.tgz": (),
    "upstream-charts/gateway-helm-v1.9.0.tgz": (),
    "upstream-charts/keda-2.20.2.tgz": (),
    "upstream-charts/kube-prometheus-stack-88.5.3.tgz": (),
    "upstream-charts/sealed-secrets-2.18.5.tgz": (),
    "upstream-charts/velero-12.1.0.tgz": (),
}


class _Loader(yaml.SafeLoader):
    """YAML 1.1's ``=`` (value) tag appears in one upstream CRD as an enum member."""


_Loader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
)  # type: ignore[arg-type]


def scoped_flags(pattern: str) -> str:
    whole = re.match(r"^\^\(\?i\)(.*)$", pattern)
    if whole:
        return "^(?i:" + whole.group(1) + ")"
    return re.sub(r"\(\(\?i\)([^()]*)\)", r"((?i:\1))", pattern)


def _rejects(rule: dict[str, Any], default: object) -> bool:
    if "enum" in rule and default not in rule["enum"]:
        return True
    negated = rule.get("not")
    if isinstance(negated, dict) and default in (negated.get("enum") or []):
        return True
    pattern = rule.get("pattern")
    return isinstance(pattern, str) and isinstance(default, str) and not re.search(pattern, default)


def convert(node: Any, strict: bool = True) -> Any:
    if isinstance(node, list):
        return [convert(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in COMBINATORS:
            out[key] = convert(value, False)
        elif key == "properties":
            out[key] = {name: convert(sub, True) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert(value, True)
        elif key in ("default", "enum", "example"):
            out[key] = value
        else:
            out[key] = convert(value, strict)
    if out.get("x-kubernetes-int-or-string") is True:
        out.pop("anyOf", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if isinstance(out.get("pattern"), str):
        out["pattern"] = scoped_flags(out["pattern"])
    props = out.get("properties") or {}
    for combinator in ("oneOf", "anyOf", "allOf"):
        for branch in out.get(combinator) or []:
            for name, rule in (branch.get("properties") or {}).items():
                default = (props.get(name) or {}).get("default")
                required = branch.get("required", [])
                if (
                    default is not None
                    and isinstance(rule, dict)
                    and _rejects(rule, default)
                    and name not in required
                ):
                    branch["required"] = [*required, name]
    if (
        strict
        and "properties" in out
        and "additionalProperties" not in out
        and out.get("x-kubernetes-preserve-unknown-fields") is not True
    ):
        out["additionalProperties"] = False
    return out


def schemas_of(crd: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = convert(copy.deepcopy(version["schema"]["openAPIV3Schema"]), True)
        props = schema.setdefault("properties", {})
        api_version = f"{group}/{version['name']}"
        props["apiVersion"] = {
            **props.get("apiVersion", {}),
            "type": "string",
            "enum": [api_version],
        }
        props["kind"] = {**props.get("kind", {}), "type": "string", "enum": [kind]}
        props["metadata"] = {"type": "object"}
        yield f"{group}/{kind.lower()}_{version['name']}.json", schema


def documents(path: Path, sets: tuple[str, ...], helm: str) -> str:
    if path.suffix == ".yaml":
        return path.read_text()
    command = [
        helm,
        "template",
        "crds",
        str(path),
        "--include-crds",
        "--kube-version",
        KUBE_VERSION,
    ]
    for value in sets:
        command += ["--set", value]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"helm template {path.name}: {result.stderr.strip()}")
    return result.stdout


def derive(artifacts: Path, out: Path, helm: str) -> list[str]:
    """Write every schema into ``out``; return the relative paths written."""
    written: list[str] = []
    for rel, sets in SOURCES.items():
        for doc in yaml.load_all(documents(artifacts / rel, sets, helm), Loader=_Loader):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            for name, schema in schemas_of(doc):
                target = out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
                written.append(name)
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", type=Path, required=True)
    parser.add_argument("--helm", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    names = derive(args.artifacts, args.out, args.helm)
    print(f"{len(names)} schemas in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
