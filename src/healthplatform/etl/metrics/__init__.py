"""Clinical metrics: pure, deterministic functions of deduplicated observations.

``compute_day(observations, day)`` returns, per domain with data on that local day, a
JSON-serialisable dict with ``status``, ``reason``, ``coverage`` and the metrics named in
``DEFINITIONS`` (versioned by ``DEFINITIONS_VERSION``). Values are not rounded; narratives
round for display.
"""

from healthplatform.etl.metrics.daily import DOMAINS, SUMMARY_KEYS, compute_day
from healthplatform.etl.metrics.definitions import (
    DEFINITIONS,
    DEFINITIONS_VERSION,
    MetricDefinition,
    definitions_markdown,
)
from healthplatform.etl.metrics.glucose import gmi, range_percentages
from healthplatform.etl.metrics.heart import hrv_trend
from healthplatform.etl.metrics.vitals import bp_category

__all__ = [
    "DEFINITIONS",
    "DEFINITIONS_VERSION",
    "DOMAINS",
    "SUMMARY_KEYS",
    "MetricDefinition",
    "bp_category",
    "compute_day",
    "definitions_markdown",
    "gmi",
    "hrv_trend",
    "range_percentages",
]
