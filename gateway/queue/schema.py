"""The embedded queue's tables: the one place its DDL lives (Alembic takes it over later).

Times are integer microseconds since the epoch in UTC: exact, compact, and compared
as plain integers by the lease query's index.

`visible_at` is when a job may next be handed out: its `not_before` while it waits,
the lease's expiry while it is leased. One indexed column serves both, so a lease is
a single range scan whatever mix of new, delayed and leased jobs the table holds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class UtcMicros(TypeDecorator[datetime]):
    """An aware date-time stored as integer microseconds since the epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else (value - _EPOCH) // _MICROSECOND

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else _EPOCH + value * _MICROSECOND


metadata = MetaData()


def _job_columns() -> list[Column[Any]]:
    """The columns a job and its dead letter share (a table needs its own Column objects)."""
    return [
        Column("jurisdiction_id", String(200), nullable=False),
        Column("kind", String(32), nullable=False),
        Column("idempotency_key", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("attempt", Integer, nullable=False),
        Column("enqueued_at", UtcMicros, nullable=False),
        Column("not_before", UtcMicros, nullable=False),
    ]


jobs = Table(
    "queue_jobs",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("id", String(32), nullable=False, unique=True),
    *_job_columns(),
    Column("last_error", Text, nullable=True),
    Column("visible_at", UtcMicros, nullable=False),
    Column("lease_token", String(32), nullable=True),
    Column("reply_to", String(200), nullable=True),
    Index("ix_queue_jobs_visible", "visible_at", "seq"),
)

dead_letters = Table(
    "queue_dead_letters",
    metadata,
    Column("id", String(32), primary_key=True),
    *_job_columns(),
    Column("reason", Text, nullable=False),
    Column("dead_at", UtcMicros, nullable=False),
    Index("ix_queue_dead_letters_dead_at", "dead_at"),
)

JOB_COLUMNS = ("id", *(column.name for column in _job_columns()))
"""The columns a job and its dead letter share: what moves between the two tables. A dead
letter keeps no `reply_to`: nobody waits for a job an operator brings back."""
