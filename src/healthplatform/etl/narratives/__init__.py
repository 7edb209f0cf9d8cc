"""Deterministic narratives from metrics: statistical, structural and semantic layers,
every number a claim.

Same input, same text: no randomness, no current time, fixed orders everywhere.
"""

from healthplatform.etl.narratives.journal import daily_journal, upload_narrative
from healthplatform.etl.narratives.model import Narrative, Sentence
from healthplatform.etl.narratives.writer import UnclaimedNumber

__all__ = ["Narrative", "Sentence", "UnclaimedNumber", "daily_journal", "upload_narrative"]
