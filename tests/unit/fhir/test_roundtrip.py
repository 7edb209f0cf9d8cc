"""Avro -> FHIR -> records: every record of the real sample files and of synthetic files of
all 31 types comes back identical, and every resource validates as FHIR R4(B)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.conceptmap import ConceptMap
from fhir.resources.R4B.observation import Observation as FhirObservation

from healthplatform.etl.decode import decode_file
from healthplatform.etl.zones import place_all
from healthplatform.fhir import codes
from healthplatform.fhir.observation import from_fhir, to_fhir
from healthplatform.healthconnect.container import ReadLimits
from healthplatform.healthconnect.observations import Observation
from healthplatform.healthconnect.registry import FILENAME_PATTERN, record_types
from healthplatform.healthconnect.synth import synthetic_file
from healthplatform.settings import Settings

LIMITS = ReadLimits.from_settings(Settings())  # the ETL's decoding bounds


def _placed(files: list[tuple[str, bytes]]) -> list[Observation]:
    out: list[Observation] = []
    for record_type, data in files:
        out.extend(decode_file(data, record_type, LIMITS).observations)
    place_all(out)
    return out


def _check(observations: list[Observation]) -> None:
    assert observations
    for obs in observations:
        before = copy.deepcopy(obs)
        resource = orjson.loads(orjson.dumps(to_fhir(obs, "p1")))  # over the wire as JSON
        FhirObservation.model_validate(resource)  # valid FHIR
        back = from_fhir(resource)
        assert back == before, (obs.record_type, obs.hc_id)
        assert back.fields == before.fields  # fields are compared by the dataclass too


def _sample_files(samples: list[Path]) -> list[tuple[str, bytes]]:
    files = []
    for path in samples:
        match = FILENAME_PATTERN.match(path.name)
        assert match
        files.append((match["hc_class"], path.read_bytes()))
    return files


def test_real_samples_survive_the_round_trip(samples: list[Path]) -> None:
    observations = _placed(_sample_files(samples))
    assert len(observations) > 1000
    assert {o.zone_source for o in observations} >= {"record", "inferred"}
    _check(observations)


@pytest.mark.parametrize("record_type", sorted(record_types()))
def test_synthetic_records_of_every_type_survive_the_round_trip(record_type: str) -> None:
    _check(_placed([(record_type, synthetic_file(record_type, 20, seed=3))]))


def test_loinc_and_ucum_for_standard_types(samples: list[Path]) -> None:
    by_type: dict[str, dict[str, Any]] = {}
    for record_type in ("StepsRecord", "HeartRateRecord", "OxygenSaturationRecord",
                        "WeightRecord", "BloodPressureRecord", "BloodGlucoseRecord"):  # fmt: skip
        obs = _placed([(record_type, synthetic_file(record_type, 1))])[0]
        by_type[record_type] = to_fhir(obs, "p1")
    loinc = {t: r["code"]["coding"][0]["code"] for t, r in by_type.items()}
    assert loinc == {
        "StepsRecord": "55423-8",
        "HeartRateRecord": "8867-4",
        "OxygenSaturationRecord": "59408-5",
        "WeightRecord": "29463-7",
        "BloodPressureRecord": "85354-9",
        "BloodGlucoseRecord": loinc["BloodGlucoseRecord"],
    }
    bp = by_type["BloodPressureRecord"]["component"]
    assert [c["code"]["coding"][0]["code"] for c in bp[:2]] == ["8480-6", "8462-4"]
    assert bp[0]["valueQuantity"]["code"] == "mm[Hg]"
    assert by_type["WeightRecord"]["valueQuantity"]["system"] == codes.UCUM
    assert by_type["WeightRecord"]["valueQuantity"]["code"] == "kg"
    hr = by_type["HeartRateRecord"]["component"][0]
    assert hr["valueQuantity"]["code"] == "/min" and hr["extension"][0]["valueDateTime"]


def test_cgm_readings_use_the_interstitial_code(samples: list[Path]) -> None:
    glucose = [o for o in _placed(_sample_files(samples)) if o.record_type == "BloodGlucoseRecord"]
    resource = to_fhir(glucose[0], "p1")
    assert resource["code"]["coding"][0]["code"] == "99504-3"
    assert resource["valueQuantity"]["code"] == "mg/dL"
    # placed on the person's clock: the Z of the CGM app became -05:00
    assert resource["effectiveDateTime"].endswith("-05:00")


def test_own_code_system_and_concept_map_are_valid_and_complete() -> None:
    system = codes.code_system()
    CodeSystem.model_validate(system)
    ConceptMap.model_validate(codes.concept_map())
    own = {c["code"] for c in system["concept"]}
    assert set(record_types()) <= own  # every type is named in our system
    assert {"sleep-stage-DEEP", "field-exerciseType", "Vo2MaxRecord"} <= own
    # every code our Observations use from our system is defined in it
    for record_type in record_types():
        for obs in _placed([(record_type, synthetic_file(record_type, 3, seed=1))]):
            resource = to_fhir(obs, "p1")
            used = [resource["code"], *(c["code"] for c in resource.get("component", []))]
            for concept in used:
                for coding in concept["coding"]:
                    if coding["system"] == codes.HC_SYSTEM:
                        assert coding["code"] in own, coding


def test_the_mapping_table_in_the_docs_is_the_code() -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "fhir.md"
    assert codes.mapping_markdown() in docs.read_text(encoding="utf-8")
