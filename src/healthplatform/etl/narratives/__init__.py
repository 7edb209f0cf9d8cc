"""Deterministic narratives from metrics: statistical, structural and semantic layers.

Same input, same text: no randomness, no current time, fixed orders everywhere.
"""

from healthplatform.etl.narratives.journal import daily_journal, upload_narrative
from healthplatform.etl.narratives.model import Narrative
from healthplatform.etl.narratives.patterns import Finding, detect

__all__ = ["Finding", "Narrative", "daily_journal", "detect", "upload_narrative"]
