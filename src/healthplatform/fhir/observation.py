"""One stored observation <-> one FHIR R4 Observation, losslessly.

Times are written at the offset the record is *placed* at (the person's clock, see
docs/metrics.md); what the record itself carried, how it was placed, the data origin and
the version tie-break are kept in extensions, so :func:`from_fhir` gives back the very
same :class:`Observation` (tests/unit/fhir/test_roundtrip.py proves it on real and synthetic
files).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from healthplatform.fhir.codes import (
    EXT,
    GLUCOSE_BY_SPECIMEN,
    HC_ID_SYSTEM,
    HC_SYSTEM,
    LOINC,
    OBS_CATEGORY,
    SLEEP_STAGE,
    TYPES,
    UCUM,
    Quantity,
    TypeMap,
)
from healthplatform.healthconnect.observations import Observation
from healthplatform.healthconnect.registry import record_types

_NS = uuid.UUID("6f1c1a52-6a4e-4b7e-9d0e-2f3f8c1b5a10")
SAMPLE_TIME = EXT + "sample-time"
PLACEMENT = EXT + "placement"
ORIGIN = EXT + "data-origin"
NULL_FIELDS = EXT + "null-fields"
FIELD_PREFIX = "field-"
JSON_PREFIX = "json-"
_INT32 = 2**31


class NotOurs(ValueError):
    """A FHIR Observation this module did not write (no Health Connect record id/type)."""


def resource_id(*parts: str) -> str:
    """A stable FHIR id (uuid5) from the parts: the same record always gets the same id."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


def fhir_time(epoch_ms: int, offset_minutes: int) -> str:
    """``2025-09-20T12:00:00.123-05:00`` (always with milliseconds and an offset)."""
    tz = timezone(timedelta(minutes=offset_minutes))
    text = datetime.fromtimestamp(epoch_ms / 1000, tz).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _quantity(value: Any, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _code(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _spec(record_type: str) -> TypeMap:
    return TYPES.get(record_type) or TypeMap((HC_SYSTEM, record_type, record_type), "activity")


def _is_instant(obs: Observation) -> bool:
    known = record_types().get(obs.record_type)
    return (not known.is_interval) if known is not None else obs.start_ms == obs.end_ms


def _observation_code(obs: Observation, spec: TypeMap) -> dict[str, Any]:
    system, code, display = spec.code
    if obs.record_type == "BloodGlucoseRecord":
        specimen = str(obs.fields.get("specimenSource"))
        if specimen in GLUCOSE_BY_SPECIMEN:
            code, display = GLUCOSE_BY_SPECIMEN[specimen]
    codings = []
    if system == LOINC:
        codings.append({"system": LOINC, "code": code, "display": display})
        if obs.record_type == "OxygenSaturationRecord":  # the vital-signs profile's code
            codings.append({"system": LOINC, "code": "2708-6", "display": "Oxygen saturation"})
    codings.append({"system": HC_SYSTEM, "code": obs.record_type})
    return {"coding": codings, "text": display}


def _other_component(name: str, value: Any) -> dict[str, Any]:
    """A field without a mapping of its own (enums, titles, durations): kept as it is."""
    if isinstance(value, bool):
        return {"code": _code(HC_SYSTEM, FIELD_PREFIX + name), "valueBoolean": value}
    if isinstance(value, str):
        return {"code": _code(HC_SYSTEM, FIELD_PREFIX + name), "valueString": value}
    if isinstance(value, int) and -_INT32 <= value < _INT32:
        return {"code": _code(HC_SYSTEM, FIELD_PREFIX + name), "valueInteger": value}
    return {"code": _code(HC_SYSTEM, JSON_PREFIX + name), "valueString": _json(value)}


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _value_component(q: Quantity, value: Any) -> dict[str, Any]:
    return {"code": _code(q.system, q.code, q.display), "valueQuantity": _quantity(value, q.unit)}


def to_fhir(obs: Observation, patient_id: str) -> dict[str, Any]:
    """The Observation resource of one stored observation."""
    spec = _spec(obs.record_type)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id(patient_id, obs.record_type, obs.hc_id),  # unique across people
        "meta": {"lastUpdated": fhir_time(obs.last_modified_ms, 0)},
        "identifier": [{"system": HC_ID_SYSTEM, "value": obs.hc_id}],
        "status": "final",
        "category": [_code(OBS_CATEGORY, spec.category)],
        "code": _observation_code(obs, spec),
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    start = fhir_time(obs.start_ms, obs.offset_minutes)
    if _is_instant(obs) and obs.start_ms == obs.end_ms:
        resource["effectiveDateTime"] = start
    else:
        end_offset = obs.end_offset_minutes
        end = fhir_time(obs.end_ms, obs.offset_minutes if end_offset is None else end_offset)
        resource["effectivePeriod"] = {"start": start, "end": end}
    components: list[dict[str, Any]] = []
    nulls: list[str] = []
    mapped = {q.field for q in spec.values}
    values = [(q, obs.fields.get(q.field)) for q in spec.values if q.field in obs.fields]
    present = [(q, v) for q, v in values if v is not None]
    if len(spec.values) == 1 and present:
        q, v = present[0]
        resource["valueQuantity"] = _quantity(v, q.unit)
    else:
        components.extend(_value_component(q, v) for q, v in present)
    nulls.extend(q.field for q, v in values if v is None)
    for name, value in obs.fields.items():
        if name in mapped:
            continue
        if value is None:
            nulls.append(name)
        elif name == "samples" and spec.samples is not None and _samples_ok(value, spec):
            components.extend(_sample(s, spec.samples, obs.offset_minutes) for s in value)
        elif name == "stages" and obs.record_type == "SleepSessionRecord" and _stages_ok(value):
            components.extend(_stage(s, obs.offset_minutes) for s in value)
        else:
            components.append(_other_component(name, value))
    if components:
        resource["component"] = components
    resource["extension"] = _extensions(obs, nulls)
    return resource


def _samples_ok(value: Any, spec: TypeMap) -> bool:
    assert spec.samples is not None
    keys = {"timeEpochMillis", spec.samples.field}
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(s, dict)
            and set(s) == keys
            and isinstance(s[spec.samples.field], int | float)
            for s in value
        )
    )


def _stages_ok(value: Any) -> bool:
    keys = {"startTimeEpochMillis", "endTimeEpochMillis", "stage"}
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(s, dict) and set(s) == keys and isinstance(s["stage"], str) for s in value
        )
    )


def _sample(sample: dict[str, Any], q: Quantity, offset: int) -> dict[str, Any]:
    out = _value_component(q, sample[q.field])
    out["extension"] = [
        {"url": SAMPLE_TIME, "valueDateTime": fhir_time(sample["timeEpochMillis"], offset)}
    ]
    return out


def _stage(stage: dict[str, Any], offset: int) -> dict[str, Any]:
    return {
        "code": _code(HC_SYSTEM, f"{SLEEP_STAGE}-{stage['stage']}"),
        "valuePeriod": {
            "start": fhir_time(stage["startTimeEpochMillis"], offset),
            "end": fhir_time(stage["endTimeEpochMillis"], offset),
        },
    }


def _extensions(obs: Observation, nulls: list[str]) -> list[dict[str, Any]]:
    placement: list[dict[str, Any]] = [
        {"url": "zoneSource", "valueCode": obs.zone_source},
        {"url": "placedOffsetMinutes", "valueInteger": obs.offset_minutes},
        {"url": "contentHash", "valueString": str(obs.content_hash)},
    ]
    for url, value in (
        ("placedEndOffsetMinutes", obs.end_offset_minutes),
        ("recordOffsetMinutes", obs.record_offset),
        ("recordEndOffsetMinutes", obs.record_end_offset),
    ):
        if value is not None:
            placement.append({"url": url, "valueInteger": value})
    out: list[dict[str, Any]] = [{"url": PLACEMENT, "extension": placement}]
    if obs.origin is not None:
        out.append({"url": ORIGIN, "valueString": obs.origin})
    if nulls:
        out.append({"url": NULL_FIELDS, "valueString": ",".join(sorted(nulls))})
    return out


def _ext(resource: dict[str, Any], url: str) -> dict[str, Any] | None:
    for ext in resource.get("extension", []):
        if ext.get("url") == url:
            found: dict[str, Any] = ext
            return found
    return None


def _coding_code(concept: dict[str, Any], system: str) -> str | None:
    for coding in concept.get("coding", []):
        if coding.get("system") == system:
            code: str = coding["code"]
            return code
    return None


def from_fhir(resource: dict[str, Any]) -> Observation:
    """The stored observation an Observation of :func:`to_fhir` was written from."""
    record_type = _coding_code(resource.get("code", {}), HC_SYSTEM)
    ids = [i["value"] for i in resource.get("identifier", []) if i.get("system") == HC_ID_SYSTEM]
    placement = _ext(resource, PLACEMENT)
    if record_type is None or not ids or placement is None:
        raise NotOurs("not a Health Connect record of this platform")
    parts = {p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in
             placement["extension"]}  # fmt: skip
    if "effectiveDateTime" in resource:
        start_ms = end_ms = parse_time(resource["effectiveDateTime"])
    else:
        start_ms = parse_time(resource["effectivePeriod"]["start"])
        end_ms = parse_time(resource["effectivePeriod"]["end"])
    spec = _spec(record_type)
    fields: dict[str, Any] = {}
    if "valueQuantity" in resource and len(spec.values) == 1:
        fields[spec.values[0].field] = resource["valueQuantity"]["value"]
    by_code = {q.code: q for q in spec.values}
    samples: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    for comp in resource.get("component", []):
        coding = comp["code"]["coding"][0]
        code = coding["code"]
        if spec.samples is not None and comp.get("extension") and code == spec.samples.code:
            at = parse_time(comp["extension"][0]["valueDateTime"])
            samples.append(
                {"timeEpochMillis": at, spec.samples.field: comp["valueQuantity"]["value"]}
            )
        elif code in by_code and coding["system"] == by_code[code].system:
            fields[by_code[code].field] = comp["valueQuantity"]["value"]
        elif code.startswith(SLEEP_STAGE + "-"):
            period = comp["valuePeriod"]
            stages.append(
                {
                    "startTimeEpochMillis": parse_time(period["start"]),
                    "endTimeEpochMillis": parse_time(period["end"]),
                    "stage": code.removeprefix(SLEEP_STAGE + "-"),
                }
            )
        elif code.startswith(JSON_PREFIX):
            fields[code.removeprefix(JSON_PREFIX)] = orjson.loads(comp["valueString"])
        else:
            value = next(v for k, v in comp.items() if k.startswith("value"))
            fields[code.removeprefix(FIELD_PREFIX)] = value
    if samples:
        fields["samples"] = samples
    if stages:
        fields["stages"] = stages
    nulls = _ext(resource, NULL_FIELDS)
    for name in nulls["valueString"].split(",") if nulls else ():
        fields[name] = None
    origin = _ext(resource, ORIGIN)
    return Observation(
        record_type=record_type,
        hc_id=ids[0],
        start_ms=start_ms,
        end_ms=end_ms,
        offset_minutes=parts["placedOffsetMinutes"],
        fields=fields,
        last_modified_ms=parse_time(resource["meta"]["lastUpdated"]),
        end_offset_minutes=parts.get("placedEndOffsetMinutes"),
        origin=None if origin is None else origin["valueString"],
        record_offset=parts.get("recordOffsetMinutes"),
        record_end_offset=parts.get("recordEndOffsetMinutes"),
        zone_source=parts["zoneSource"],
        content_hash=int(parts["contentHash"]),
    )
