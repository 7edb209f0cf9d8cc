"""The two narrative entry points: a daily journal and the summary of one uploaded file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from healthplatform.etl.metrics.daily import DOMAINS, SUMMARY_KEYS
from healthplatform.etl.metrics.definitions import DEFINITIONS_VERSION
from healthplatform.etl.narratives import render as r
from healthplatform.etl.narratives.listings import PHRASES
from healthplatform.etl.narratives.model import Narrative
from healthplatform.etl.narratives.patterns import History, detect
from healthplatform.etl.narratives.semantic import CLOSING
from healthplatform.etl.narratives.semantic import semantic as semantic_layer
from healthplatform.etl.narratives.statistical import domain_sentence, placement_note, record_label
from healthplatform.etl.narratives.writer import Writer

Json = dict[str, Any]
NO_PATTERNS = "No notable patterns."
LATE_DATA_HOUR = 23  # data ending before 23:00 makes the day "as of HH:MM"


def offset_text(minutes: int) -> str:
    """``-300`` -> ``'-05:00'`` (ISO 8601 offset)."""
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def zone_label(minutes: int) -> str:
    """``-300`` -> ``'UTC-05:00'``, ``0`` -> ``'UTC'``."""
    return "UTC" if minutes == 0 else f"UTC{offset_text(minutes)}"


def day_window(day: date, offset: int) -> tuple[str, str]:
    """The local day as ISO start and end with the zone offset."""
    suffix = offset_text(offset)
    return (
        f"{day.isoformat()}T00:00{suffix}",
        f"{(day + timedelta(days=1)).isoformat()}T00:00{suffix}",
    )


def records_by_domain(metrics: Mapping[str, Json]) -> dict[str, int]:
    return {
        name: sum((d.get("coverage") or {}).get("records", {}).values())
        for name, d in metrics.items()
    }


def daily_journal(
    day: date, metrics: dict[str, Json], history: History, context: Json | None = None
) -> Narrative:
    """Narrative for one day from its ``compute_day`` output, earlier days' outputs and the
    day's clock (``context``: zone offset, data extent; see ``etl.derive``).

    Only history entries before ``day`` are used (the 14 calendar days before it)."""
    context = context or {}
    offset = int(context.get("offset_minutes") or 0)
    w = Writer(day_window(day, offset), records_by_domain(metrics), DEFINITIONS_VERSION, metrics)
    w.at("statistical", "day")
    zone = w.val("context.offset_minutes", offset, "offset", zone_label, records=0)
    extent = ""
    until = context.get("data_until")
    if until and int(until[:2]) < LATE_DATA_HOUR:
        extent = f", as of {w.val('context.data_until', until, 'HH:MM', r.hhmm, records=0)}"
    w.say(
        f"Daily summary for {w.val('context.date', day.isoformat(), 'date', str, records=0)} "
        f"(times in {zone}{extent})."
    )
    for name in DOMAINS:
        if name in metrics:
            w.at("statistical", name).say(domain_sentence(w, name, metrics[name]))
            note = placement_note(w, name, metrics[name], offset, zone_label)
            if note:
                w.say(note)
    findings = detect(w, day, metrics, history)
    if not findings:
        w.at("structural", "day").say(NO_PATTERNS)
    semantic_layer(w, [(n, metrics[n]["status"]) for n in DOMAINS if n in metrics], findings)
    return w.narrative()


def upload_narrative(
    record_type: str,
    days: Sequence[tuple[date, dict[str, Json]]],
    offsets: Mapping[date, int] | None = None,
) -> Narrative:
    """What one uploaded file of ``record_type`` contributed to the days it touched, as
    those days stand now (``days``: their ``compute_day`` outputs, empty when a day has no
    data left; ``offsets``: each day's zone offset). Raises ``ValueError`` for an unknown
    record type."""
    if record_type not in SUMMARY_KEYS:
        raise ValueError(f"unknown record type {record_type!r}")
    domain, key = SUMMARY_KEYS[record_type]
    offsets = offsets or {}
    w = Writer(("", ""), {}, DEFINITIONS_VERSION)
    label = record_label(record_type)
    w.at("statistical", domain).say(f"Uploaded {label} data, by local day:")
    insufficient: list[date] = []
    for day, m in sorted(days, key=lambda item: item[0]):
        w.window = day_window(day, offsets.get(day, 0))
        w.records = records_by_domain(m)
        w.metrics = m
        day_label = w.val("context.date", day.isoformat(), "date", str, records=0)
        phrase = _phrase(w, domain, key, m[domain]) if domain in m else None
        text = phrase.rstrip(".") if phrase else f"no {record_label(record_type)} data"
        w.say(f"{day_label}: {text}.")
        if domain in m and m[domain]["status"] != "ok":
            insufficient.append(day)
    w.at("structural", domain)
    labels = []
    for day in insufficient:
        w.window = day_window(day, offsets.get(day, 0))
        labels.append(w.val("context.date", day.isoformat(), "date", str, records=0))
    w.say(
        f"Insufficient data for daily {domain} metrics on {', '.join(labels)}."
        if labels
        else NO_PATTERNS
    )
    w.at("semantic", domain).say(
        "The journal of each day holds the full picture of that day, with every upload."
    )
    w.at("semantic", "day").say(CLOSING)
    return w.narrative()


def _phrase(w: Writer, domain: str, key: str, d: Json) -> str | None:
    if domain in ("glucose", "sleep"):
        return domain_sentence(w, domain, d)
    return PHRASES[(domain, key)](w, d)
