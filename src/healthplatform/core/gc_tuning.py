"""Garbage-collector settings for long-running services.

The ETL builds and drops a dict per decoded record; with CPython's default threshold
(700 allocations) the young generation is collected thousands of times per file, and every
full collection walks every object loaded at start-up. After start-up those objects are
frozen (never scanned again) and the young-generation threshold is raised: reference
counting still frees almost everything at once; the collector only has to find cycles.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_for_service() -> None:
    """Call once, after imports and start-up and before serving."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
