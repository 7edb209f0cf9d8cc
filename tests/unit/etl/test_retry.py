"""The ETL's retry policy: which failures are waited out, for how long, how spread."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from healthplatform.core.errors import DependencyUnavailable
from healthplatform.etl.pipeline import PermanentError
from healthplatform.etl.retry import FIRST_FAILURE, RETRIES, RetryPolicy, is_dependency_failure
from healthplatform.events.delivery import Delivery
from healthplatform.storage.base import ObjectNotFound, ObjectStoreError


def _wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("while processing") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        ObjectStoreError("GET raw/x: Cannot connect to host"),
        OperationalError("SELECT 1", {}, ConnectionRefusedError()),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        DependencyUnavailable("database"),
        ConnectionResetError(),
        TimeoutError(),
        _wrapped(ObjectStoreError("down")),
    ],
)
def test_dependency_failures_are_waited_out(exc: BaseException) -> None:
    assert is_dependency_failure(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ObjectNotFound("raw/x"),
        PermanentError("stored file cannot be decoded"),
        IntegrityError("INSERT", {}, ValueError("duplicate")),
        ValueError("a bug"),
        KeyError("metrics"),
        _wrapped(ObjectNotFound("raw/x")),
    ],
)
def test_bad_work_is_not_a_dependency_failure(exc: BaseException) -> None:
    assert not is_dependency_failure(exc)


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=30.0, budget_seconds=900)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (40, 30.0)]:
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # spread: workers do not come back in step


def _delivery(headers: dict[str, object]) -> Delivery:
    return Delivery("1", "upload.received", {"upload_id": "x"}, dict(headers), 1)


def test_the_budget_is_time_not_deliveries() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=30.0, budget_seconds=900)
    first = policy.next_dependency_retry(_delivery({}), now=1000.0)
    assert first is not None
    delay, headers = first
    assert headers == {FIRST_FAILURE: "1000.000", RETRIES: 1} and 0.5 <= delay <= 1.0
    # the 50th retry ten minutes in: still within the budget
    later = policy.next_dependency_retry(
        _delivery({FIRST_FAILURE: 1000.0, RETRIES: 49}), now=1600.0
    )
    assert later is not None and later[1][RETRIES] == 50 and later[0] <= 30.0
    # near the end the wait is cut to what is left, then it stops
    last = policy.next_dependency_retry(_delivery({FIRST_FAILURE: 1000.0, RETRIES: 60}), now=1895.0)
    assert last is not None and last[0] <= 5.0
    assert (
        policy.next_dependency_retry(_delivery({FIRST_FAILURE: "1000", RETRIES: 61}), now=1900.0)
        is None
    )


def test_the_first_failure_survives_an_amqp_header_table() -> None:
    """pamqp encodes a float header as 32 bits (an epoch time off by up to a minute): the
    time travels as text and comes back exact."""
    from pamqp import decode, encode

    policy = RetryPolicy(budget_seconds=900)
    again = policy.next_dependency_retry(_delivery({}), now=1_765_012_345.678)
    assert again is not None
    _, table = decode.field_table(encode.field_table(again[1]))
    later = policy.next_dependency_retry(_delivery(table), now=1_765_012_345.678 + 899)
    assert later is not None  # still within the budget: the time was not rounded
    assert float(table[FIRST_FAILURE]) == 1_765_012_345.678
