"""The mapping table: Health Connect record types and fields to LOINC + UCUM, or to our own
CodeSystem. docs/fhir.md shows the same table with its sources; a test keeps them equal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from healthplatform.healthconnect.observations import TIME_FIELDS
from healthplatform.healthconnect.registry import record_types

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
HC_SYSTEM = "urn:healthplatform:fhir:CodeSystem:health-connect"
HC_ID_SYSTEM = "urn:healthplatform:fhir:health-connect-record-id"
CGM_TEMP_SYSTEM = "http://hl7.org/fhir/uv/cgm/CodeSystem/cgm-summary-codes-temporary"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
EXT = "urn:healthplatform:fhir:StructureDefinition:"
CODESYSTEM_VERSION = "2026.12.1"


@dataclass(frozen=True)
class Quantity:
    """One value field of a record: its code and unit."""

    field: str
    system: str
    code: str
    display: str
    unit: str  # UCUM code (also used as the human unit)


@dataclass(frozen=True)
class TypeMap:
    """How one record type becomes an Observation.

    ``code`` is the Observation code (LOINC, else ours); ``values`` are the scalar fields
    (one: valueQuantity; several: components); ``samples`` the field inside each sample of
    a ``samples`` array (components with the sample's time); ``category`` the FHIR category.
    """

    code: tuple[str, str, str]  # (system, code, display)
    category: str
    values: tuple[Quantity, ...] = ()
    samples: Quantity | None = None


def _l(field: str, code: str, display: str, unit: str) -> Quantity:
    return Quantity(field, LOINC, code, display, unit)


def _o(field: str, unit: str, display: str | None = None) -> Quantity:
    return Quantity(field, HC_SYSTEM, f"field-{field}", display or field, unit)


def _own(record_type: str, display: str) -> tuple[str, str, str]:
    return (HC_SYSTEM, record_type, display)


VITAL = "vital-signs"
ACTIVITY = "activity"
LAB = "laboratory"

# Health Connect enum value of BloodGlucoseRecord.specimenSource -> LOINC reading code.
GLUCOSE_BY_SPECIMEN: dict[str, tuple[str, str]] = {
    "INTERSTITIAL_FLUID": ("99504-3", "Glucose [Mass/volume] in Interstitial fluid"),
    "CAPILLARY_BLOOD": ("41653-7", "Glucose [Mass/volume] in Capillary blood by Glucometer"),
    "PLASMA": ("2345-7", "Glucose [Mass/volume] in Serum or Plasma"),
    "SERUM": ("2345-7", "Glucose [Mass/volume] in Serum or Plasma"),
    "WHOLE_BLOOD": ("2339-0", "Glucose [Mass/volume] in Blood"),
}
GLUCOSE_DEFAULT = ("2339-0", "Glucose [Mass/volume] in Blood")

# Units as the app exports them (etl/metrics/intake.py): kcal, g, minerals mg, vitamin D ug.
NUTRIENTS = {
    "calories": "kcal",
    "carbohydrates": "g",
    "protein": "g",
    "totalFat": "g",
    "saturatedFat": "g",
    "unsaturatedFat": "g",
    "transFat": "g",
    "fiber": "g",
    "sugar": "g",
    "sodium": "mg",
    "potassium": "mg",
    "cholesterol": "mg",
    "calcium": "mg",
    "iron": "mg",
    "vitaminC": "mg",
    "vitaminD": "ug",
}

TYPES: dict[str, TypeMap] = {
    "StepsRecord": TypeMap(
        (LOINC, "55423-8", "Number of steps in unspecified time Pedometer"),
        ACTIVITY,
        (_l("count", "55423-8", "Number of steps", "{steps}"),),
    ),
    "HeartRateRecord": TypeMap(
        (LOINC, "8867-4", "Heart rate"),
        VITAL,
        samples=_l("beatsPerMinute", "8867-4", "Heart rate", "/min"),
    ),
    "RestingHeartRateRecord": TypeMap(
        (LOINC, "40443-4", "Heart rate --resting"),
        VITAL,
        (_l("beatsPerMinute", "40443-4", "Heart rate --resting", "/min"),),
    ),
    "OxygenSaturationRecord": TypeMap(
        (LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
        VITAL,
        (_l("percentage", "59408-5", "Oxygen saturation by Pulse oximetry", "%"),),
    ),
    "WeightRecord": TypeMap(
        (LOINC, "29463-7", "Body weight"),
        VITAL,
        (_l("weightInKilograms", "29463-7", "Body weight", "kg"),),
    ),
    "HeightRecord": TypeMap(
        (LOINC, "8302-2", "Body height"),
        VITAL,
        (_l("heightInMeters", "8302-2", "Body height", "m"),),
    ),
    "BloodPressureRecord": TypeMap(
        (LOINC, "85354-9", "Blood pressure panel with all children optional"),
        VITAL,
        (
            _l("systolic", "8480-6", "Systolic blood pressure", "mm[Hg]"),
            _l("diastolic", "8462-4", "Diastolic blood pressure", "mm[Hg]"),
        ),
    ),
    "BodyTemperatureRecord": TypeMap(
        (LOINC, "8310-5", "Body temperature"),
        VITAL,
        (_l("temperatureInCelsius", "8310-5", "Body temperature", "Cel"),),
    ),
    "BasalBodyTemperatureRecord": TypeMap(
        (LOINC, "8310-5", "Body temperature"),
        VITAL,
        (_l("temperatureInCelsius", "8310-5", "Body temperature", "Cel"),),
    ),
    "RespiratoryRateRecord": TypeMap(
        (LOINC, "9279-1", "Respiratory rate"),
        VITAL,
        (_l("rate", "9279-1", "Respiratory rate", "/min"),),
    ),
    "BodyFatRecord": TypeMap(
        (LOINC, "41982-0", "Percentage of body fat Measured"),
        VITAL,
        (_l("percentage", "41982-0", "Percentage of body fat", "%"),),
    ),
    "HeartRateVariabilityRmssdRecord": TypeMap(
        _own("HeartRateVariabilityRmssdRecord", "Heart rate variability (RMSSD)"),
        VITAL,
        (_o("heartRateVariabilityRmssd", "ms", "Heart rate variability RMSSD"),),
    ),
    "BloodGlucoseRecord": TypeMap(
        (LOINC, GLUCOSE_DEFAULT[0], GLUCOSE_DEFAULT[1]),
        LAB,
        (_l("levelInMilligramsPerDeciliter", GLUCOSE_DEFAULT[0], "Glucose", "mg/dL"),),
    ),
    "ActiveCaloriesBurnedRecord": TypeMap(
        (LOINC, "55424-6", "Calories burned in unspecified time Pedometer"),
        ACTIVITY,
        (_l("energyInKilocalories", "55424-6", "Calories burned", "kcal"),),
    ),
    "DistanceRecord": TypeMap(
        _own("DistanceRecord", "Distance"),
        ACTIVITY,
        (_o("distanceInMeters", "m", "Distance"),),
    ),
    "TotalCaloriesBurnedRecord": TypeMap(
        _own("TotalCaloriesBurnedRecord", "Total energy expended (active and basal)"),
        ACTIVITY,
        (_o("energyInKilocalories", "kcal", "Total energy expended"),),
    ),
    "BasalMetabolicRateRecord": TypeMap(
        _own("BasalMetabolicRateRecord", "Basal metabolic rate"),
        VITAL,
        (_o("basalMetabolicRateInKilocaloriesPerDay", "kcal/d", "Basal metabolic rate"),),
    ),
    "BodyWaterMassRecord": TypeMap(
        _own("BodyWaterMassRecord", "Body water mass"),
        VITAL,
        (_o("massInKilograms", "kg", "Body water mass"),),
    ),
    "BoneMassRecord": TypeMap(
        _own("BoneMassRecord", "Bone mass"), VITAL, (_o("massInKilograms", "kg", "Bone mass"),)
    ),
    "LeanBodyMassRecord": TypeMap(
        _own("LeanBodyMassRecord", "Lean body mass"),
        VITAL,
        (_o("massInKilograms", "kg", "Lean body mass"),),
    ),
    "Vo2MaxRecord": TypeMap(
        _own("Vo2MaxRecord", "VO2 max"),
        ACTIVITY,
        (_o("vo2MillilitersPerMinuteKilogram", "mL/min/kg", "VO2 max"),),
    ),
    "ElevationGainedRecord": TypeMap(
        _own("ElevationGainedRecord", "Elevation gained"),
        ACTIVITY,
        (_o("elevationInMeters", "m", "Elevation gained"),),
    ),
    "FloorsClimbedRecord": TypeMap(
        _own("FloorsClimbedRecord", "Floors climbed"),
        ACTIVITY,
        (_o("floors", "{floors}", "Floors climbed"),),
    ),
    "HydrationRecord": TypeMap(
        _own("HydrationRecord", "Fluid intake"),
        ACTIVITY,
        (_o("volumeInMilliliters", "mL", "Fluid intake"),),
    ),
    "NutritionRecord": TypeMap(
        _own("NutritionRecord", "Food intake"),
        ACTIVITY,
        tuple(_o(name, unit) for name, unit in NUTRIENTS.items()),
    ),
    "SleepSessionRecord": TypeMap(_own("SleepSessionRecord", "Sleep session"), ACTIVITY),
    "ExerciseSessionRecord": TypeMap(_own("ExerciseSessionRecord", "Exercise session"), ACTIVITY),
    "CyclingPedalingCadenceRecord": TypeMap(
        _own("CyclingPedalingCadenceRecord", "Cycling pedaling cadence"),
        ACTIVITY,
        samples=_o("revolutionsPerMinute", "/min", "Pedaling cadence"),
    ),
    "PowerRecord": TypeMap(
        _own("PowerRecord", "Power"), ACTIVITY, samples=_o("powerInWatts", "W", "Power")
    ),
    "SpeedRecord": TypeMap(
        _own("SpeedRecord", "Speed"),
        ACTIVITY,
        samples=_o("speedInMetersPerSecond", "m/s", "Speed"),
    ),
    "StepsCadenceRecord": TypeMap(
        _own("StepsCadenceRecord", "Steps cadence"),
        ACTIVITY,
        samples=_o("rateInStepsPerMinute", "{steps}/min", "Steps cadence"),
    ),
}

# CGM IG (hl7.fhir.uv.cgm 1.0.0) summary codes, all LOINC.
CGM = {
    "summary": (CGM_TEMP_SYSTEM, "cgm-summary", "CGM Summary Report"),
    "mean": (LOINC, "97507-8", "Average glucose [Mass/volume] in Interstitial fluid"),
    "ranges": (LOINC, "106793-3", "Continuous glucose monitoring time in ranges panel"),
    "very_low": (LOINC, "104642-4", "Time below range, very low (<54 mg/dL)"),
    "low": (LOINC, "104641-6", "Time below range, low (54-69 mg/dL)"),
    "target": (LOINC, "97510-2", "Time in range (70-180 mg/dL)"),
    "high": (LOINC, "104640-8", "Time above range, high (181-250 mg/dL)"),
    "very_high": (LOINC, "104639-0", "Time above range, very high (>250 mg/dL)"),
    "gmi": (LOINC, "97506-0", "Glucose management indicator"),
    "cv": (LOINC, "104638-2", "Coefficient of variation of glucose"),
    "days": (LOINC, "104636-6", "Continuous glucose monitoring duration of use"),
    "active": (LOINC, "104637-4", "Continuous glucose monitoring sensor wear time active"),
}

SLEEP_STAGE = "sleep-stage"


def own_concepts() -> list[dict[str, Any]]:
    """Every code of our CodeSystem: record types without a standard code, the fields we
    code ourselves, sleep stages and exercise types (their values keep Health Connect's
    enum names)."""
    concepts: dict[str, str] = {}
    for name, spec in TYPES.items():
        concepts[name] = f"Health Connect {name}: {spec.code[2]}"
        for q in (*spec.values, *([spec.samples] if spec.samples else [])):
            if q.system == HC_SYSTEM:
                concepts[q.code] = f"{q.display} ({q.unit})"
    for name, record_type in record_types().items():
        mapped = {q.field for q in TYPES[name].values} if name in TYPES else set()
        for f in record_type.schema["fields"]:
            field = f["name"]
            if field in TIME_FIELDS or field in mapped or field in ("samples", "stages"):
                continue
            concepts.setdefault(f"field-{field}", f"Health Connect field {field} (as written)")
        if name == "SleepSessionRecord":
            stages = next(f for f in record_type.schema["fields"] if f["name"] == "stages")
            stage_enum = next(f for f in stages["type"]["items"]["fields"] if f["name"] == "stage")
            for symbol in stage_enum["type"]["symbols"]:
                concepts[f"{SLEEP_STAGE}-{symbol}"] = f"Sleep stage {symbol} (value: its period)"
    return [{"code": c, "display": d} for c, d in sorted(concepts.items())]


def code_system() -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": "health-connect",
        "url": HC_SYSTEM,
        "version": CODESYSTEM_VERSION,
        "name": "HealthPlatformHealthConnect",
        "title": "Health Connect record types and fields without a standard code",
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "description": "Codes of the Health Data AI Platform for Health Connect data that "
        "LOINC does not cover (docs/fhir.md). Every Observation also carries the record "
        "type as a code of this system, so a reader can tell the source type.",
        "concept": own_concepts(),
    }


def concept_map() -> dict[str, Any]:
    """Record types -> the LOINC code used for them (equivalent), or none (unmatched)."""
    elements = []
    for name, spec in sorted(TYPES.items()):
        system, code, display = spec.code
        if system == LOINC:
            target = [{"code": code, "display": display, "equivalence": "equivalent"}]
        else:
            target = [{"equivalence": "unmatched", "comment": "no LOINC code; ours is used"}]
        elements.append({"code": name, "target": target})
    return {
        "resourceType": "ConceptMap",
        "id": "health-connect-to-loinc",
        "url": "urn:healthplatform:fhir:ConceptMap:health-connect-to-loinc",
        "version": CODESYSTEM_VERSION,
        "name": "HealthConnectToLoinc",
        "status": "active",
        "sourceUri": HC_SYSTEM,
        "targetUri": LOINC,
        "group": [{"source": HC_SYSTEM, "target": LOINC, "element": elements}],
    }


def mapping_markdown() -> str:
    """The mapping table of docs/fhir.md (a test keeps the two equal)."""
    lines = [
        "| Record type | Observation code | Value | UCUM unit | Category |",
        "|---|---|---|---|---|",
    ]
    for name, spec in sorted(TYPES.items()):
        system, code, display = spec.code
        where = "LOINC" if system == LOINC else "ours"
        if name == "BloodGlucoseRecord":
            code_text = "by specimen (below)"
        else:
            code_text = f"{where} `{code}` {display}"
        if spec.samples is not None:
            q = spec.samples
            value = f"a component per sample (`{q.field}`, {_code_of(q)}) with its time"
            units = q.unit
        elif len(spec.values) == 1:
            value, units = f"valueQuantity `{spec.values[0].field}`", spec.values[0].unit
        elif spec.values:
            value = "components " + ", ".join(f"`{q.field}` ({_code_of(q)})" for q in spec.values)
            units = ", ".join(sorted({q.unit for q in spec.values}))
        elif name == "SleepSessionRecord":
            value, units = "a component per stage: ours `sleep-stage-<STAGE>`, valuePeriod", "-"
        else:
            value, units = "components of its fields (ours `field-<name>`)", "-"
        lines.append(f"| {name} | {code_text} | {value} | `{units}` | {spec.category} |")
    return "\n".join(lines) + "\n"


def _code_of(q: Quantity) -> str:
    return f"LOINC {q.code}" if q.system == LOINC else f"ours `{q.code}`"
