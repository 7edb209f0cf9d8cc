"""Service start-up freezes what is loaded and raises the young-generation threshold."""

from __future__ import annotations

import gc

from healthplatform.core.gc_tuning import YOUNG_THRESHOLD, tune_for_service


def test_tune_for_service_freezes_start_up_objects() -> None:
    before = gc.get_threshold()
    try:
        tune_for_service()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()  # cycles are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
