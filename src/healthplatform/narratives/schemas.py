"""Wire shapes of narratives."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from healthplatform.uploads.schemas import Pagination


class ClaimOut(BaseModel):
    """One number the text states: where it comes from and what it rests on."""

    id: str
    metric: str = Field(description="Path in the day's metrics; def.* a definition's threshold")
    value: Any = Field(description="The unrounded value")
    unit: str
    text: str = Field(description="How the value reads in the text")
    window: list[str] = Field(description="Local ISO start and end the value describes")
    records: int = Field(description="Source records the value rests on")
    domain: str
    layer: str
    version: str = Field(description="Metric definitions version")


class SentenceOut(BaseModel):
    layer: str
    domain: str
    text: str
    claims: list[str]


class NarrativeOut(BaseModel):
    kind: str
    date: date | None
    upload_id: uuid.UUID | None
    domains: list[str]
    statistical: str
    structural: str
    semantic: str
    text: str
    claims: list[ClaimOut] = Field(description="Every number in the text, as a claim")
    sentences: list[SentenceOut] = Field(description="The text sentence by sentence")
    superseded: bool = Field(
        False, description="Upload narratives: a later upload changed these days since"
    )
    metrics: dict[str, Any] | None = None
    definitions_version: str
    updated_at: datetime


class NarrativeList(BaseModel):
    narratives: list[NarrativeOut]
    pagination: Pagination
