"""The PostgreSQL fast path writes exactly the columns the portable path writes."""

from __future__ import annotations

import uuid

import orjson

from healthplatform.etl import observation_rows as repo
from healthplatform.healthconnect.observations import Observation


def test_pg_columns_match_row_in_column_order() -> None:
    obs = Observation(
        "SleepSessionRecord",
        "id-1",
        1_758_351_360_000,
        1_758_377_940_000,
        -300,
        {"stages": [{"stage": "DEEP"}]},
        42,
        True,
        -240,
    )
    upload = uuid.uuid4()
    row = repo._row("u" * 32, upload, obs)
    columns = repo._pg_columns([obs, obs])
    assert set(row) == set(repo._COLUMNS)
    # $1 user_id and $2 upload_id are scalars; the arrays follow the other columns in order
    assert repo._COLUMNS[0] == "user_id" and repo._COLUMNS[-1] == "upload_id"
    expected = [
        orjson.dumps(row[c]).decode() if c == "fields" else row[c] for c in repo._COLUMNS[1:-1]
    ]
    assert [column[1] for column in columns] == expected


def test_observation_days_cover_a_night_across_midnight() -> None:
    night = Observation("SleepSessionRecord", "n", 1_758_351_360_000, 1_758_377_940_000, -300)
    assert [d.isoformat() for d in repo.observation_days(night)] == ["2025-09-20"]
    late = Observation("StepsRecord", "s", 1_758_337_200_000, 1_758_348_000_000, -300)
    assert [d.isoformat() for d in repo.observation_days(late)] == ["2025-09-19", "2025-09-20"]
