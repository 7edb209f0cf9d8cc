"""Hot PostgreSQL statements run on the pooled connection's own asyncpg driver.

SQLAlchemy's execution layer (execution context, parameter processing, result wrapping)
costs ~220 µs of CPU around a ~60 µs asyncpg call for the upload insert (measured
in-process, 2000 inserts each way): ~8 % of the API's CPU per upload. A
:class:`DriverStatement` is a Core statement compiled once for the engine's dialect; it
runs on the asyncpg connection the engine's pool checks out, so pool size, timeouts and
connections stay shared with every other query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from healthplatform.core.errors import DependencyUnavailable
from healthplatform.db.engine import invalidate_pool

# Errors after which the connection cannot be trusted again (cut, closed, timed out,
# refused by the server); a server-side error in a healthy session keeps it.
_CONNECTION_LOST = (
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
    TimeoutError,
)


class DriverStatement:
    """A Core statement compiled for asyncpg: SQL text, and its parameters in positional
    order with the bind processors SQLAlchemy would apply (JSON serialisation, type
    decorators)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        self._params: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, dialect.type_descriptor(compiled.binds[name].type).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        return [
            process(params[name]) if process is not None else params[name]
            for name, process in self._params
        ]


async def fetchrow(
    conn: AsyncConnection, statement: DriverStatement, params: Mapping[str, Any]
) -> asyncpg.Record | None:
    """Run ``statement`` on ``conn``'s driver connection in autocommit mode (asyncpg runs a
    statement outside a transaction in its own) and return its first row.

    Errors are answered as the API answers SQLAlchemy's: a broken constraint propagates
    (a bug: 500); anything else is :class:`DependencyUnavailable` (503), and a lost
    connection is invalidated so that the pool never hands it out again."""
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    try:
        record: asyncpg.Record | None = await driver.fetchrow(
            statement.sql, *statement.arguments(params)
        )
    except asyncpg.IntegrityConstraintViolationError:
        raise
    except _CONNECTION_LOST as exc:
        await conn.invalidate(exc)
        invalidate_pool(conn.engine)  # the others opened before the same restart are dead too
        raise DependencyUnavailable("database") from exc
    except asyncpg.PostgresError as exc:
        raise DependencyUnavailable("database") from exc
    return record
