"""What the MCP tools read: the stored days, journals and the metric registry. Everything is
read as the ETL stored it and verified (docs/metrics.md); nothing is computed again except
the aggregation a caller asks for."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from healthplatform.db.models import DailyMetrics, Narrative
from healthplatform.etl.metrics import DEFINITIONS, DEFINITIONS_VERSION
from healthplatform.etl.narratives.model import Narrative as NarrativeText
from healthplatform.narratives.service import published_journal
from healthplatform.runtime import Resources

MAX_RANGE_DAYS = 366
AGGREGATIONS: dict[str, Callable[[Sequence[float]], float] | None] = {
    "none": None,
    "mean": statistics.fmean,
    "median": statistics.median,
    "min": min,
    "max": max,
    "sum": lambda xs: float(sum(xs)),
    "count": lambda xs: float(len(xs)),
}


class ToolInputError(ValueError):
    """Bad arguments or no data: the assistant gets the message (a tool error, not a crash)."""


def parse_day(text: str, name: str = "day") -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ToolInputError(f"{name} must be a date YYYY-MM-DD, got {text!r}") from exc


def parse_range(start: str, end: str) -> tuple[date, date]:
    first, last = parse_day(start, "from"), parse_day(end, "to")
    if last < first:
        raise ToolInputError("to is before from")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise ToolInputError(f"a range spans at most {MAX_RANGE_DAYS} days")
    return first, last


def _provenance(row: DailyMetrics) -> dict[str, Any]:
    return {
        "source": "daily_metrics",
        "definitions_version": row.definitions_version,
        "source_upload_ids": row.source_upload_ids,
        "derived_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def _journal(row: Narrative) -> dict[str, Any]:
    text = NarrativeText.from_json(row.sections or [], row.claims or [])
    return {
        "kind": row.kind,
        "date": row.local_date.isoformat() if row.local_date else None,
        "statistical": text.statistical,
        "structural": text.structural,
        "semantic": text.semantic,
        "claims": text.claims_json(),
        "definitions_version": row.definitions_version,
        "verified": row.status == "published",
    }


async def list_days(res: Resources, user: str, limit: int) -> dict[str, Any]:
    if not 1 <= limit <= 3660:
        raise ToolInputError("limit must be between 1 and 3660")
    async with res.sessions() as session:
        days = (
            await session.execute(
                select(DailyMetrics.local_date, DailyMetrics.metrics)
                .where(DailyMetrics.user_id == user)
                .order_by(DailyMetrics.local_date.desc())
                .limit(limit)
            )
        ).all()
    return {
        "days": [{"date": d.isoformat(), "domains": sorted(metrics or {})} for d, metrics in days],
        "count": len(days),
        "order": "newest first",
    }


async def get_day(res: Resources, user: str, day_text: str) -> dict[str, Any]:
    day = parse_day(day_text)
    async with res.sessions() as session:
        row = await session.get(DailyMetrics, (user, day))
        if row is None:
            raise ToolInputError(f"no data for {day.isoformat()}")
        journal = await published_journal(session, user, day)
        return {
            "date": day.isoformat(),
            "metrics": row.metrics,
            "context": row.context or {},
            "journal": None if journal is None else _journal(journal),
            "provenance": _provenance(row),
        }


async def get_narratives(res: Resources, user: str, start: str, end: str) -> dict[str, Any]:
    first, last = parse_range(start, end)
    async with res.sessions() as session:
        rows = (
            await session.execute(
                select(Narrative)
                .where(
                    Narrative.user_id == user,
                    Narrative.kind == "daily",
                    Narrative.status == "published",
                    Narrative.local_date >= first,
                    Narrative.local_date <= last,
                )
                .order_by(Narrative.local_date)
            )
        ).scalars()
        narratives = [_journal(r) for r in rows]
    return {"from": first.isoformat(), "to": last.isoformat(), "narratives": narratives}


def metric_value(metrics: dict[str, Any], path: str) -> Any:
    """``glucose.tir_70_180_pct`` -> metrics["glucose"]["tir_70_180_pct"] (None if absent)."""
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def definition_for(path: str) -> dict[str, Any] | None:
    """The registry entry of a metric path: itself, or the nearest entry above it."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        found = DEFINITIONS.get(".".join(parts[:n]))
        if found is not None:
            return {
                "name": found.name,
                "unit": found.unit,
                "definition": found.definition,
                "citation": found.citation,
                "definitions_version": DEFINITIONS_VERSION,
            }
    return None


async def query_series(
    res: Resources, user: str, metric: str, start: str, end: str, aggregation: str
) -> dict[str, Any]:
    if aggregation not in AGGREGATIONS:
        raise ToolInputError(f"aggregation must be one of {', '.join(AGGREGATIONS)}")
    if not metric or len(metric) > 200 or definition_for(metric) is None:
        raise ToolInputError(f"unknown metric {metric!r}: explain_metric lists the names")
    first, last = parse_range(start, end)
    async with res.sessions() as session:
        rows = (
            await session.execute(
                select(DailyMetrics)
                .where(
                    DailyMetrics.user_id == user,
                    DailyMetrics.local_date >= first,
                    DailyMetrics.local_date <= last,
                )
                .order_by(DailyMetrics.local_date)
            )
        ).scalars()
        claims = await _claims_of(session, user, first, last, metric)
        points: list[dict[str, Any]] = []
        for row in rows:
            value = metric_value(row.metrics or {}, metric)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            points.append(
                {
                    "date": row.local_date.isoformat(),
                    "value": value if numeric else None,
                    "provenance": _provenance(row),
                    # the verified journal's claims about this metric (text as published)
                    "claims": claims.get(row.local_date, []),
                }
            )
    values: list[float] = [p["value"] for p in points if p["value"] is not None]
    reduce = AGGREGATIONS[aggregation]
    out: dict[str, Any] = {
        "metric": metric,
        "definition": definition_for(metric),
        "from": first.isoformat(),
        "to": last.isoformat(),
        "aggregation": aggregation,
        "days_with_value": len(values),
        "days_without_value": [p["date"] for p in points if p["value"] is None],
        "points": points,
    }
    if reduce is not None:
        out["value"] = reduce(values) if values else None
    return out


async def _claims_of(
    session: AsyncSession, user: str, first: date, last: date, metric: str
) -> dict[date, list[dict[str, Any]]]:
    rows = await session.execute(
        select(Narrative.local_date, Narrative.claims).where(
            Narrative.user_id == user,
            Narrative.kind == "daily",
            Narrative.status == "published",
            Narrative.local_date >= first,
            Narrative.local_date <= last,
        )
    )
    out: dict[date, list[dict[str, Any]]] = {}
    for day, claims in rows:
        about = [c for c in claims or [] if c.get("metric") == metric]
        if day is not None and about:
            out[day] = about
    return out


def explain_metric(metric: str) -> dict[str, Any]:
    found = definition_for(metric)
    if found is None:
        names = sorted(DEFINITIONS)
        close = [n for n in names if metric and metric.split(".")[0] == n.split(".")[0]]
        raise ToolInputError(f"unknown metric {metric!r}; known: {', '.join(close or names[:40])}")
    return found
