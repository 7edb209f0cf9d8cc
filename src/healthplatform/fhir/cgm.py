"""The HL7 CGM IG's summary Observations over the export's reporting period, computed in
one pass over the readings (constant memory, whatever the period's length)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date
from typing import Any

from healthplatform.etl.metrics import gmi
from healthplatform.fhir.codes import CGM, OBS_CATEGORY, UCUM
from healthplatform.fhir.observation import resource_id
from healthplatform.healthconnect.observations import Observation

GMI_MIN_DAYS = 14  # Bergenstal 2018; as the day metrics (docs/metrics.md)
MINUTE_MS = 60_000


class CgmSummary:
    """Feed every observation (any type, in time order per type); :meth:`resources` gives
    the summary Observations of the interstitial-fluid glucose readings seen."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0  # Welford: the SD without holding the readings
        self.bins = Counter[str]()
        self.days: set[date] = set()
        self.spacings = Counter[int]()
        self._last_ms: int | None = None

    def add(self, obs: Observation) -> None:
        if obs.record_type != "BloodGlucoseRecord":
            return
        if obs.fields.get("specimenSource") != "INTERSTITIAL_FLUID":
            return
        value = obs.fields.get("levelInMilligramsPerDeciliter")
        if not isinstance(value, int | float) or not math.isfinite(value):
            return
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)
        self.bins[_bin(value)] += 1
        self.days.add(obs.local_date)
        if self._last_ms is not None and obs.start_ms - self._last_ms >= 30_000:
            self.spacings[round((obs.start_ms - self._last_ms) / MINUTE_MS)] += 1
        self._last_ms = obs.start_ms

    def values(self) -> dict[str, float | None]:
        """The summary numbers (None when the readings cannot support one)."""
        if self.n == 0:
            return {}
        sd = math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else None
        first, last = min(self.days), max(self.days)
        period_minutes = ((last - first).days + 1) * 1440
        interval = self.spacings.most_common(1)[0][0] if self.spacings else None
        active = None if not interval else min(100.0, 100.0 * self.n * interval / period_minutes)
        out: dict[str, float | None] = {
            "mean": self.mean,
            "cv": None if sd is None or self.mean == 0 else 100.0 * sd / self.mean,
            "gmi": gmi(self.mean) if len(self.days) >= GMI_MIN_DAYS else None,
            "days": float(len(self.days)),
            "active": active,
        }
        for key in ("very_low", "low", "target", "high", "very_high"):
            out[key] = 100.0 * self.bins[key] / self.n
        return out

    def resources(self, patient_id: str) -> list[dict[str, Any]]:
        values = self.values()
        if not values:
            return []
        period = {"start": min(self.days).isoformat(), "end": max(self.days).isoformat()}

        def obs(key: str, **body: Any) -> dict[str, Any]:
            system, code, display = CGM[key]
            return {
                "resourceType": "Observation",
                "id": resource_id("cgm", patient_id, key, period["start"], period["end"]),
                "status": "final",
                "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}],
                "code": {"coding": [{"system": system, "code": code, "display": display}]},
                "subject": {"reference": f"Patient/{patient_id}"},
                "effectivePeriod": period,
                **body,
            }

        def qty(value: float, unit: str) -> dict[str, Any]:
            return {"value": round(value, 2), "unit": unit, "system": UCUM, "code": unit}

        members = []
        if (mean := values["mean"]) is not None:
            members.append(obs("mean", valueQuantity=qty(mean, "mg/dL")))
        ranges = [
            {"code": {"coding": [dict(zip(("system", "code", "display"), CGM[k], strict=True))]},
             "valueQuantity": qty(values[k] or 0.0, "%")}
            for k in ("very_low", "low", "target", "high", "very_high")
        ]  # fmt: skip
        members.append(obs("ranges", component=ranges))
        for key, unit in (("gmi", "%"), ("cv", "%"), ("days", "d"), ("active", "%")):
            value = values[key]
            if value is not None:
                members.append(obs(key, valueQuantity=qty(value, unit)))
        summary = obs(
            "summary", hasMember=[{"reference": f"Observation/{m['id']}"} for m in members]
        )
        return [summary, *members]


def _bin(value: float) -> str:
    if value < 54:
        return "very_low"
    if value < 70:
        return "low"
    if value <= 180:
        return "target"
    if value <= 250:
        return "high"
    return "very_high"
