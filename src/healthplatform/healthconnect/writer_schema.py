"""Which writer schemas an upload may carry: those that resolve against this platform's
schema of the same record type (the 31 contracts in ``schemas/``) by the Avro schema
resolution rules, and that cannot make reading a file unbounded.

Checked in this order, each refusal a :class:`SchemaRefused` with the reason:

1. JSON: at most :data:`MAX_JSON_DEPTH` levels (a text of 100,000 ``[`` or 2,000 nested
   arrays stops here, before anything recursive looks at it).
2. Structure: known type names only, at most :data:`MAX_NAMED_TYPES` named types, no named
   type that contains itself (recursive types), no array whose items occupy zero bytes
   (``null``, ``fixed`` of size 0, records of those: a block count of 2^62 of them would be
   read without consuming a byte), at most :data:`MAX_VALUES_PER_ITEM` values in one array
   or map item and :data:`MAX_VALUES_PER_RECORD` in one record when every named type is
   expanded (``T(n) = {a: T(n-1), b: T(n-1)}`` is 2^n values). So reading a block is at
   most (its bytes / the smallest item width) x 32 values, whatever the schema.
3. Resolution against ours: same (unqualified) record names; every field of ours is in the
   writer's (or has a default); field types match or promote (int->long->float->double,
   string<->bytes); enums' symbols are ours; every branch of a writer union is readable.
   Fields the writer adds are allowed (Avro skips them); the block scanner bounds them.

The parsed writer schema is the writer's Parsing Canonical Form: it has the writer's binary
encoding and none of its attributes (logical types are not applied: ``timestamp-millis`` of
2^62 stays a number). When that form equals ours, files are decoded with our schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from healthplatform.healthconnect.registry import record_type_from_schema_name, record_types

MAX_JSON_DEPTH = 64
MAX_NAMED_TYPES = 256
MAX_VALUES_PER_ITEM = 32  # ours: at most 4 (a sample record and its fields)
MAX_VALUES_PER_RECORD = 1024  # ours: at most 57
PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double", "bytes", "string"))
WIDTH = {
    "null": 0,
    "boolean": 1,
    "int": 1,
    "long": 1,
    "float": 4,
    "double": 8,
    "bytes": 1,
    "string": 1,
}
PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


class SchemaRefused(Exception):
    """The writer schema is not accepted; ``str()`` says why."""


@dataclass(frozen=True)
class CheckedSchema:
    """An accepted writer schema."""

    record_type: str
    canonical: dict[str, Any]  # the writer's Parsing Canonical Form (names fully qualified)
    parsed: Any  # what fastavro reads records with (ours when ``same_as_ours``)
    reader: Any  # our parsed schema when the writer's differs (fastavro resolves), else None
    same_as_ours: bool
    min_item_width: int  # fewest bytes any repeated item (or record) occupies


def json_depth(value: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


def load_json(raw: bytes) -> Any:
    """Parse schema text; too deep or not JSON -> :class:`SchemaRefused`."""
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise SchemaRefused(f"schema nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:
        raise SchemaRefused(f"schema is not JSON: {exc}") from exc
    if json_depth(value) > MAX_JSON_DEPTH:
        raise SchemaRefused(f"schema nested deeper than {MAX_JSON_DEPTH} levels")
    return value


class _Names:
    """Named types of one schema, by full name, after normalising it to canonical form."""

    def __init__(self, schema: Any) -> None:
        self.named: dict[str, dict[str, Any]] = {}
        self.root = self.norm(schema, "")

    def full(self, name: Any, namespace: str) -> str:
        if not isinstance(name, str) or not name:
            raise SchemaRefused("a named type has no name")
        return name if "." in name or not namespace else f"{namespace}.{name}"

    def norm(self, t: Any, ns: str) -> Any:
        if isinstance(t, list):
            return [self.norm(b, ns) for b in t]
        if isinstance(t, str):
            if t in PRIMITIVES:
                return t
            name = self.full(t, ns)
            if name not in self.named:
                raise SchemaRefused(f"unknown type {t!r}")
            return name
        if not isinstance(t, dict):
            raise SchemaRefused("a type is neither a name, a union nor an object")
        kind = t.get("type")
        if isinstance(kind, (dict, list)):
            return self.norm(kind, ns)
        if kind in PRIMITIVES:
            return kind
        if kind == "array":
            return {"type": "array", "items": self.norm(t.get("items"), ns)}
        if kind == "map":
            return {"type": "map", "values": self.norm(t.get("values"), ns)}
        if kind not in ("record", "error", "enum", "fixed"):
            raise SchemaRefused(f"unknown type {kind!r}")
        name = self.full(t.get("name"), str(t.get("namespace") or ns))
        if name in self.named:
            raise SchemaRefused(f"type {name!r} is defined twice")
        if len(self.named) >= MAX_NAMED_TYPES:
            raise SchemaRefused(f"more than {MAX_NAMED_TYPES} named types")
        out: dict[str, Any] = {"name": name, "type": "record" if kind == "error" else kind}
        self.named[name] = out
        if kind == "fixed":
            size = t.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 2**20:
                raise SchemaRefused(f"fixed {name!r} has a bad size")
            out["size"] = size
        elif kind == "enum":
            symbols = t.get("symbols")
            if not isinstance(symbols, list) or not symbols or len(symbols) > 10_000:
                raise SchemaRefused(f"enum {name!r} has bad symbols")
            out["symbols"] = [str(s) for s in symbols]
            out["has_default"] = "default" in t
        else:
            fields = t.get("fields")
            if not isinstance(fields, list):
                raise SchemaRefused(f"record {name!r} has no field list")
            child_ns = name.rpartition(".")[0]
            out["fields"] = [
                {
                    "name": str(f.get("name")) if isinstance(f, dict) else "",
                    "type": self.norm(f.get("type") if isinstance(f, dict) else None, child_ns),
                    "has_default": isinstance(f, dict) and "default" in f,
                }
                for f in fields
            ]
        return name


def _children(t: Any, names: _Names) -> list[Any]:
    if isinstance(t, list):
        return list(t)
    if isinstance(t, dict):
        if t["type"] == "array":
            return [t["items"]]
        if t["type"] == "map":
            return [t["values"]]
        if t["type"] == "record":
            return [f["type"] for f in t["fields"]]
    if isinstance(t, str) and t in names.named:
        return [names.named[t]]
    return []


def _check_structure(names: _Names) -> int:
    """Recursion, zero-width repeats and value counts; returns the smallest item width."""
    width: dict[str, int] = {}
    values: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 = being measured, 2 = done
    smallest = [2**31]

    def measure(t: Any) -> tuple[int, int]:  # (min bytes, values when expanded)
        if isinstance(t, str) and t in PRIMITIVES:
            return WIDTH[t], 1
        if isinstance(t, str):
            if state.get(t) == 1:
                raise SchemaRefused(f"type {t!r} contains itself (recursive types are refused)")
            if state.get(t) != 2:
                state[t] = 1
                width[t], values[t] = measure(names.named[t])
                state[t] = 2
            return width[t], values[t]
        if isinstance(t, list):
            parts = [measure(b) for b in t]
            if not parts:
                raise SchemaRefused("empty union")
            return 1 + min(p[0] for p in parts), 1 + max(p[1] for p in parts)
        kind = t["type"]
        if kind == "fixed":
            return t["size"], 1
        if kind == "enum":
            return 1, 1
        if kind in ("array", "map"):
            item_width, item_values = measure(t["items" if kind == "array" else "values"])
            if kind == "map":
                item_width += 1  # the key's length
            if item_width == 0:
                raise SchemaRefused("an array repeats a type that occupies no bytes")
            smallest[0] = min(smallest[0], item_width)
            if item_values > MAX_VALUES_PER_ITEM:
                raise SchemaRefused(f"an item has more than {MAX_VALUES_PER_ITEM} values")
            return 1, 1
        parts = [measure(f["type"]) for f in t["fields"]]
        total = 1 + sum(p[1] for p in parts)
        if total > MAX_VALUES_PER_RECORD:
            raise SchemaRefused(f"a record has more than {MAX_VALUES_PER_RECORD} values")
        return sum(p[0] for p in parts), total

    root_width, _ = measure(names.root)
    return max(1, min(smallest[0], root_width))


def _kind(t: Any, names: _Names) -> tuple[str, Any]:
    if isinstance(t, str) and t in PRIMITIVES:
        return t, t
    if isinstance(t, str):
        node = names.named[t]
        return node["type"], node
    return t["type"], t


def _short(name: str) -> str:
    return name.rpartition(".")[2]


def _mismatch(w: Any, wn: _Names, r: Any, rn: _Names, path: str) -> str | None:
    """Why writer type ``w`` cannot be read as our type ``r``; None when it can."""
    if isinstance(w, list):
        for branch in w:
            why = _mismatch(branch, wn, r, rn, path)
            if why:
                return why
        return None
    if isinstance(r, list):
        reasons = [_mismatch(w, wn, branch, rn, path) for branch in r]
        return None if any(x is None for x in reasons) else next(x for x in reasons if x)
    wk, wt = _kind(w, wn)
    rk, rt = _kind(r, rn)
    label = path or "the record"
    if wk in PRIMITIVES or rk in PRIMITIVES:
        if wk == rk or rk in PROMOTIONS.get(wk, ()):
            return None
        return f"{label}: the file's type {wk} cannot be read as {rk}"
    if wk != rk:
        return f"{label}: the file's type {wk} cannot be read as {rk}"
    if wk in ("record", "enum", "fixed") and _short(wt["name"]) != _short(rt["name"]):
        return f"{label}: the file's {wk} {_short(wt['name'])} is not {_short(rt['name'])}"
    if wk == "fixed" and wt["size"] != rt["size"]:
        return f"{label}: fixed size {wt['size']} is not {rt['size']}"
    if wk == "enum":
        extra = set(wt["symbols"]) - set(rt["symbols"])
        if extra and not rt["has_default"]:
            return f"{label}: unknown symbols {sorted(extra)[:5]}"
        return None
    if wk == "array":
        return _mismatch(wt["items"], wn, rt["items"], rn, f"{path}[]")
    if wk == "map":
        return _mismatch(wt["values"], wn, rt["values"], rn, f"{path}{{}}")
    theirs = {f["name"]: f for f in wt["fields"]}
    for field in rt["fields"]:
        sub = f"{path}.{field['name']}" if path else field["name"]
        if field["name"] not in theirs:
            if not field["has_default"]:
                return f"{sub}: missing from the file's schema (no default)"
            continue
        why = _mismatch(theirs[field["name"]]["type"], wn, field["type"], rn, sub)
        if why:
            return why
    return None


@cache
def _ours(record_type: str) -> tuple[_Names, str, Any]:
    schema = record_types()[record_type].schema
    return _Names(schema), to_parsing_canonical_form(schema), fastavro.parse_schema(schema)


@lru_cache(maxsize=64)
def check_writer_schema(raw: bytes) -> CheckedSchema:
    """Check a file's ``avro.schema`` text. Raises :class:`SchemaRefused`. Cached by text
    (a phone writes the same schema into every file); refusals are not cached."""
    schema = load_json(raw)
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SchemaRefused("the file's schema is not a record")
    name = str(schema.get("name", ""))
    full_name = name if "." in name else f"{schema.get('namespace', '')}.{name}"
    record_type = record_type_from_schema_name(full_name)
    if record_type is None:
        raise SchemaRefused(
            f"unsupported record type {full_name!r}: expected one of the 31 Health Connect "
            "types in namespace io.github.hitoshura25.healthsyncapp.data.avro"
        )
    names = _Names(schema)
    min_width = _check_structure(names)
    our_names, our_canonical, our_parsed = _ours(record_type)
    why = _mismatch(names.root, names, our_names.root, our_names, "")
    if why:
        raise SchemaRefused(f"schema does not match ours for {record_type}: {why}")
    try:
        canonical_text = to_parsing_canonical_form(schema)
        same = canonical_text == our_canonical
        canonical = json.loads(canonical_text)
        parsed = our_parsed if same else fastavro.parse_schema(canonical)
    except Exception as exc:  # fastavro raises several types for bad schemas
        raise SchemaRefused(f"invalid schema: {exc}") from exc
    return CheckedSchema(
        record_type, canonical, parsed, None if same else our_parsed, same, min_width
    )
