"""The streamed bundle as a whole: valid JSON and a valid R4(B) Bundle, and the CGM IG
summary over 15 days of CGM readings (GMI from 14 days on), checked against a computation
of its own."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import orjson
from fhir.resources.R4B.bundle import Bundle

from healthplatform.etl.decode import decode_file
from healthplatform.etl.zones import place_all
from healthplatform.fhir.bundle import bundle
from healthplatform.fhir.codes import UCUM
from healthplatform.healthconnect.container import ReadLimits
from healthplatform.healthconnect.observations import Observation
from healthplatform.healthconnect.synth import synthetic_file, synthetic_records
from healthplatform.settings import Settings
from tests.assistant_eval.people import avro_file

LIMITS = ReadLimits.from_settings(Settings())  # the ETL's decoding bounds


DAY_MS = 86_400_000


def _cgm(days: int) -> list[Observation]:
    records = synthetic_records("BloodGlucoseRecord", days * 288, seed=5)
    for i, r in enumerate(records):
        r["specimenSource"] = "INTERSTITIAL_FLUID" if i % 50 else "CAPILLARY_BLOOD"
        r["zoneOffsetId"] = "-05:00"
    observations = decode_file(
        avro_file("BloodGlucoseRecord", records), "BloodGlucoseRecord", LIMITS
    )
    return observations.observations


def _summary(observations: list[Observation]) -> dict[str, dict[str, object]]:
    body = b"".join(bundle("u1", observations, datetime(2026, 1, 1, tzinfo=UTC)))
    parsed = orjson.loads(body)
    Bundle.model_validate(parsed)
    found = {}
    for entry in parsed["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and "identifier" not in resource:
            found[resource["code"]["coding"][0]["code"]] = resource
    return found


def test_cgm_summary_of_fifteen_days() -> None:
    observations = _cgm(15)
    summary = _summary(observations)
    cgm = [o.fields["levelInMilligramsPerDeciliter"] for o in observations
           if o.fields["specimenSource"] == "INTERSTITIAL_FLUID"]  # fmt: skip
    mean = statistics.fmean(cgm)
    assert summary["97507-8"]["valueQuantity"]["value"] == round(mean, 2)
    assert summary["97506-0"]["valueQuantity"]["value"] == round(3.31 + 0.02392 * mean, 2)
    cv = 100 * statistics.stdev(cgm) / mean
    assert summary["104638-2"]["valueQuantity"]["value"] == round(cv, 2)
    days = {o.local_date for o in observations if o.fields["specimenSource"] != "CAPILLARY_BLOOD"}
    wear = summary["104636-6"]["valueQuantity"]
    assert (wear["value"], wear["code"], wear["system"]) == (len(days), "d", UCUM)
    # 5-min spacing; capillary readings are not sensor readings: 49 of every 50 are
    period_readings = len(days) * 288
    active = summary["104637-4"]["valueQuantity"]["value"]
    assert active == round(100 * len(cgm) * 5 / (period_readings * 5), 2)
    ranges = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
              for c in summary["106793-3"]["component"]}  # fmt: skip
    low = sum(1 for v in cgm if 54 <= v < 70)  # the IG's "low" excludes "very low"
    assert ranges["104641-6"] == round(100 * low / len(cgm), 2)
    assert ranges["104640-8"] == round(100 * sum(1 for v in cgm if 180 < v <= 250) / len(cgm), 2)
    members = {m["reference"] for m in summary["cgm-summary"]["hasMember"]}
    assert len(members) == 6  # mean, ranges, GMI, CV, days, active


def test_no_gmi_before_fourteen_days_and_no_summary_without_cgm() -> None:
    summary = _summary(_cgm(12))  # 12 x 24 h from 15:26 local: 13 local dates
    assert "97506-0" not in summary and "97507-8" in summary
    steps = decode_file(synthetic_file("StepsRecord", 30), "StepsRecord", LIMITS).observations
    place_all(steps)
    assert _summary(steps) == {}
