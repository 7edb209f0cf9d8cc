"""Wire shapes of narratives."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from healthplatform.uploads.schemas import Pagination


class NarrativeOut(BaseModel):
    kind: str
    date: date | None
    upload_id: uuid.UUID | None
    domains: list[str]
    statistical: str
    structural: str
    semantic: str
    text: str
    metrics: dict[str, Any] | None = None
    definitions_version: str
    updated_at: datetime


class NarrativeList(BaseModel):
    narratives: list[NarrativeOut]
    pagination: Pagination
