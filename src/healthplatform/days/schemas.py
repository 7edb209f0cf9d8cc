"""Wire shapes of /v1/days: what the web app's day page and history read.

``metrics``, ``context`` and ``series`` are the ETL's stored documents as they are (their
keys are the metric definitions': docs/metrics.md); the rest is fixed here.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from healthplatform.narratives.schemas import ClaimOut


class DayList(BaseModel):
    days: list[str] = Field(description="Local dates (YYYY-MM-DD) with metrics, newest first")


class UploadNarrative(BaseModel):
    text: str
    superseded: bool = Field(description="A later upload changed these days since")


class UploadDays(BaseModel):
    days: list[str] = Field(description="Local dates the upload's records fall on, with data")
    narrative: UploadNarrative | None


class DayZone(BaseModel):
    """The clock the day's times are in."""

    offset_minutes: int
    label: str = Field(description="The offset as the page shows it (UTC+01:00)")
    name: str | None = Field(description="The IANA zone the person set, in force that day")
    source: Literal["set", "inferred", "utc", "record"] = Field(
        description="Where the records' clocks came from"
    )
    placed: int = Field(description="Records placed by the person's zone")


class SampleLabel(BaseModel):
    label: str = Field(description="The description sample uploads carry")


class DayJournal(BaseModel):
    """The published daily journal, one layer of text per field."""

    statistical: str
    structural: str
    semantic: str
    claims: list[ClaimOut] = Field(description="Every number in the text, as a claim")


class DayView(BaseModel):
    date: date
    metrics: dict[str, Any] = Field(description="Per domain, the day's stored metrics")
    context: dict[str, Any] = Field(description="The day's clock: offset, placement counts")
    zone: DayZone
    sample: SampleLabel | None = Field(description="Set when the day holds sample data")
    journal: DayJournal | None = Field(description="None until the journal is published")
    series: dict[str, Any] = Field(
        description="What the charts plot, in minutes since local midnight"
    )
    definitions_version: str = Field(description="Metric definitions the day was derived with")
