"""FHIR R4 export of a person's data (docs/fhir.md): Observations with LOINC and UCUM where a
standard code exists, the HL7 CGM IG's summary Observations, and our own CodeSystem (with a
ConceptMap) for the rest."""
