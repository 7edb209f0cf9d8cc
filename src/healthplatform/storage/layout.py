"""Where the platform writes objects: every key and prefix of the data lake.

A person's objects live under ``<root>/<user key>/`` for each root of
:data:`PERSON_ROOTS`; erasure deletes :func:`person_prefixes`, so a new per-person root
added here is erased with them.
"""

from __future__ import annotations

from datetime import date

RAW_PREFIX = "raw"  # uploaded files, as received
TRAINING_PREFIX = "training"  # one training example per person and local day
PERSON_ROOTS = (RAW_PREFIX, TRAINING_PREFIX)
# Who was erased and when (kept on purpose: a restore of an older backup reads it).
ERASURE_LOG_PREFIX = "erasure-log/"


def person_prefixes(user_id: str) -> tuple[str, ...]:
    """Every prefix holding the person's objects."""
    return tuple(f"{root}/{user_id}/" for root in PERSON_ROOTS)


def raw_key(user_id: str, record_type: str, day: date, sha256: str) -> str:
    """Content-addressed key of an uploaded file (``day``: where its data starts)."""
    return f"{RAW_PREFIX}/{user_id}/{record_type}/{day:%Y}/{day:%m}/{day:%d}/{sha256}.avro"


def training_prefix(user_id: str) -> str:
    """Every training example of one person (deleted when they withdraw consent)."""
    return f"{TRAINING_PREFIX}/{user_id}/"


def training_day_prefix(user_id: str, day: date) -> str:
    """Folder of one person's training example for one day (one object once committed)."""
    return f"{training_prefix(user_id)}{day:%Y/%m/%d}/"


def training_month_prefix(user_id: str, day: date) -> str:
    return f"{training_prefix(user_id)}{day:%Y/%m}/"


def training_day(key: str) -> date | None:
    """The local date of a training example from its key (None for another shape)."""
    parts = key.split("/")
    try:
        return date(int(parts[-4]), int(parts[-3]), int(parts[-2]))
    except (IndexError, ValueError):
        return None
