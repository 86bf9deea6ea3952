"""Database failures as the connector's typed errors, bounded in time.

A failure is the payload's fault (permanent) when the database says so by its
SQLSTATE class, whatever exception class the driver picked for it: 22 (a value that
does not fit), 23 (a constraint: unique, check, not null, foreign key) or 42 (a name
the database does not know). asyncmy raises a failed CHECK as an OperationalError, for
one. Drivers that give no SQLSTATE (sqlite3) are judged by the exception class.
Everything else (lost connections, deadlocks, lock waits, server shutdowns) may pass
on a retry.

Messages keep only the driver's first line (constraint and column names); SQL
parameters and PostgreSQL's DETAIL lines can hold personal data and stay out, and so
do the values MySQL and MariaDB quote in theirs ("Duplicate entry '...' for key").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    ProgrammingError,
    SQLAlchemyError,
    StatementError,
)

from connectors.base import ConnectorError, PermanentError, TransientError

QUOTED_VALUE = re.compile(r"(entry|value:) '.*'( for (?:key|column) )")
"""A value MySQL or MariaDB quotes in a message, before the key or column it is for."""


def first_line(exc: SQLAlchemyError) -> str:
    """The driver's first message line, or the error's type: never SQL parameters."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        lines = _message(exc.orig).strip().splitlines()
        if lines:
            return QUOTED_VALUE.sub(r"\1 '…'\2", lines[0])
    return type(exc).__name__


def _message(error: BaseException) -> str:
    """MySQL drivers' errors are (errno, message); others are their message."""
    match error.args:
        case (int(errno), str(message)):
            return f"({errno}) {message}"
    return str(error)


MYSQL_REFUSALS = {1265: "22", 1364: "23", 1366: "22", 3819: "23"}
"""MySQL/MariaDB refusals sent with the generic SQLSTATE HY000, by error number, with the
class they belong to: data truncated, a NOT NULL column without a default left out, an
incorrect value for a column, a CHECK failed (MySQL 8)."""


def _sqlstate_class(exc: SQLAlchemyError) -> str | None:
    if not isinstance(exc, DBAPIError):
        return None
    match exc.orig.args:
        case (int(errno), *_) if errno in MYSQL_REFUSALS:
            return MYSQL_REFUSALS[errno]
    state = getattr(exc.orig, "sqlstate", None)
    return state[:2] if isinstance(state, str) else None


def connector_error(exc: SQLAlchemyError) -> ConnectorError:
    """Refusals of the data are permanent; everything else may pass on a retry."""
    state = _sqlstate_class(exc)
    if (
        state == "22"
        or isinstance(exc, DataError)
        or (isinstance(exc, StatementError) and not isinstance(exc, DBAPIError))
    ):
        return PermanentError("the database refused a value that does not fit its column")
    if state in ("23", "42") or isinstance(exc, IntegrityError | ProgrammingError):
        return PermanentError(f"the database refused the change: {first_line(exc)}")
    return TransientError(f"the database failed: {first_line(exc)}")


@asynccontextmanager
async def database_call(seconds: float) -> AsyncIterator[None]:
    """Bound a database call in time and type its failures."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise TransientError(f"the database did not answer within {seconds:g} s") from None
    except SQLAlchemyError as exc:
        raise connector_error(exc) from None
    except OSError as exc:  # a driver that fails to connect raises it unwrapped (asyncpg)
        raise TransientError(f"the database is unreachable: {type(exc).__name__}") from None
