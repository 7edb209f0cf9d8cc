"""How long the ETL keeps trying, and which failures are worth waiting out.

Two kinds of failure reach the worker's retry path:

* a **dependency failure**: PostgreSQL, the object store or the network is down or was
  restarted. The file is fine; waiting helps. These are retried with exponential backoff
  and jitter for a *time* budget (``etl_retry_budget_seconds``, default 15 minutes: a
  rolling restart, a failover, a node drain), not a number of deliveries. An upload still
  failing when the budget is spent is marked ``failed`` with :data:`DEPENDENCY_MARK` in its
  error, and housekeeping queues it again later (:func:`healthplatform.ops.housekeeping.
  requeue_failed`): nothing accepted is lost to an outage, however long.
* **anything else** (a bug, an unexpected exception): retried up to the delivery limit,
  then marked ``failed`` and dead-lettered for an operator.

The retry state travels with the event (headers, see :data:`FIRST_FAILURE` and
:data:`RETRIES`), so it survives a worker restart and works the same on RabbitMQ and on
the database queue.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from healthplatform.core.errors import DependencyUnavailable
from healthplatform.events.delivery import Delivery
from healthplatform.storage.base import ObjectNotFound, ObjectStoreError

DEPENDENCY_MARK = "dependency unavailable: "  # prefix of an upload's error: requeue it
FIRST_FAILURE = "x-hp-first-failure"  # epoch seconds (text) of the first dependency failure
RETRIES = "x-hp-retries"  # dependency retries so far

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # includes "the database system is starting up"
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, terminated backend
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    OperationalError,
    InterfaceError,
    PoolTimeout,
    DependencyUnavailable,
    ConnectionError,
    TimeoutError,
    OSError,
)


def is_dependency_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says a dependency was unreachable rather than
    that the work itself is wrong."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ObjectNotFound):
            return False
        if isinstance(current, (ObjectStoreError, *_CONNECTION_ERRORS)):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


@dataclass(frozen=True)
class RetryPolicy:
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    budget_seconds: float = 900.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half the capped delay, plus a random
        part up to the other half (workers retrying after one outage spread out)."""
        ceiling = float(min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def next_dependency_retry(
        self, delivery: Delivery, now: float | None = None
    ) -> tuple[float, dict[str, object]] | None:
        """(delay, headers to carry) for another attempt, or None when the budget is spent."""
        moment = time.time() if now is None else now
        first = _number(delivery.headers.get(FIRST_FAILURE), moment)
        retries = int(_number(delivery.headers.get(RETRIES), 0)) + 1
        if moment - first >= self.budget_seconds:
            return None
        delay = min(self.backoff(retries), max(0.0, first + self.budget_seconds - moment))
        # as text: AMQP header tables carry a Python float as a 32-bit float (pamqp),
        # which rounds an epoch time by up to a minute
        return delay, {FIRST_FAILURE: f"{first:.3f}", RETRIES: retries}


def _number(value: object, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default
