"""Database failures as the connector's typed errors, bounded in time.

Messages keep only the driver's first line (constraint and column names); SQL
parameters and PostgreSQL's DETAIL lines can hold personal data and stay out.
"""

from __future__ import annotations

import asyncio
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


def first_line(exc: SQLAlchemyError) -> str:
    """The driver's first message line, or the error's type: never SQL parameters."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines()
        if lines:
            return lines[0]
    return type(exc).__name__


def connector_error(exc: SQLAlchemyError) -> ConnectorError:
    """Refusals of the data are permanent; everything else may pass on a retry."""
    if isinstance(exc, IntegrityError | ProgrammingError):
        return PermanentError(f"the database refused the change: {first_line(exc)}")
    if isinstance(exc, DataError) or (
        isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)
    ):
        return PermanentError("the database refused a value that does not fit its column")
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
