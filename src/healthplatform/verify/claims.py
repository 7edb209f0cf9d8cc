"""A claim: one number a narrative states, as the verifier checks it.

The metric (its path in the day's metrics, ``def.*`` for a definition's threshold,
``context.*`` for the day's clock), the unrounded value, the unit, the text it reads as, the
local window it describes, how many source records it rests on and the definitions version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Claim:
    id: str
    metric: str
    value: Any
    unit: str
    text: str
    window: tuple[str, str]
    records: int
    domain: str
    layer: str
    version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "metric": self.metric,
            "value": self.value,
            "unit": self.unit,
            "text": self.text,
            "window": list(self.window),
            "records": self.records,
            "domain": self.domain,
            "layer": self.layer,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Claim:
        return cls(**{**data, "window": tuple(data["window"])})
