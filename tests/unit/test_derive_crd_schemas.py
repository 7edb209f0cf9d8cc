"""scripts/derive_crd_schemas.py: each conversion rule on a small CRD, checked by validating
documents with the result (jsonschema, as the deployment tests do)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from scripts.derive_crd_schemas import convert, schemas_of, scoped_flags

CRD: dict[str, Any] = {
    "kind": "CustomResourceDefinition",
    "spec": {
        "group": "example.io",
        "names": {"kind": "Widget"},
        "versions": [
            {"name": "v1alpha1", "served": False, "schema": {"openAPIV3Schema": {}}},
            {
                "name": "v1",
                "served": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "port": {
                                        "x-kubernetes-int-or-string": True,
                                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                                    },
                                    "note": {"type": "string", "nullable": True},
                                    "mode": {"type": "string", "pattern": "^(?i)(abort|warn)?$"},
                                    "free": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                        "properties": {"a": {"type": "string"}},
                                    },
                                    "address": {
                                        "type": "object",
                                        "properties": {
                                            "type": {"type": "string", "default": "IP"},
                                            "value": {"type": "string"},
                                        },
                                        "oneOf": [
                                            {
                                                "properties": {"type": {"enum": ["IP"]}},
                                                "required": [],
                                            },
                                            {"properties": {"type": {"not": {"enum": ["IP"]}}}},
                                        ],
                                    },
                                },
                            }
                        },
                    }
                },
            },
        ],
    },
}


def validator() -> Draft202012Validator:
    ((name, schema),) = list(schemas_of(CRD))
    assert name == "example.io/widget_v1.json"  # v1alpha1 is not served
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(doc: dict[str, Any]) -> list[str]:
    return [e.message for e in validator().iter_errors(doc)]


def widget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"x": 1}, "spec": spec}


def test_a_valid_widget_passes() -> None:
    assert errors(widget(port=80, note=None, mode="WARN", free={"b": 1})) == []
    assert errors(widget(port="http", address={"type": "IP", "value": "1.2.3.4"})) == []


def test_strict_objects_refuse_unknown_fields_but_free_form_stays_open() -> None:
    assert any("'colour' was unexpected" in e for e in errors(widget(colour="red")))
    assert errors(widget(free={"anything": ["goes"]})) == []


def test_root_apiversion_and_kind_are_enums() -> None:
    assert errors({**widget(), "apiVersion": "example.io/v2"})
    assert errors({**widget(), "kind": "Gadget"})


def test_int_or_string_and_nullable() -> None:
    assert errors(widget(port=1.5))
    schema = convert({"type": "string", "nullable": True, "enum": ["a"]})
    assert schema == {"type": ["string", "null"], "enum": ["a", None]}


def test_go_flag_groups_become_scoped() -> None:
    assert scoped_flags("^(?i)(abort|warn)?$") == "^(?i:(abort|warn)?$)"
    assert scoped_flags("^((?i)sun|mon)day$") == "^((?i:sun|mon))day$"
    assert errors(widget(mode="Abort")) == []
    assert errors(widget(mode="stop"))


def test_a_branch_rejecting_the_default_requires_the_field() -> None:
    """With ``type`` omitted the API server fills in "IP": only the first branch may match."""
    assert errors(widget(address={"value": "1.2.3.4"})) == []
    assert errors(widget(address={"type": "Hostname", "value": "a.example"})) == []
