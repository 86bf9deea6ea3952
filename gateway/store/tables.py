"""The store's tables, as SQLAlchemy Core knows them; migrations create and change them.

A change here needs a new revision in `migrations/versions/`; a test compares the two.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, MetaData, String, Table, Text, UniqueConstraint, text

from connectors.sql.columns import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _only_where_set(column: str) -> dict[str, Any]:
    """An index of the rows whose `column` is set: the others never look it up."""
    condition = text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


submissions = Table(
    "submissions",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("jurisdiction_id", String(200), nullable=False),
    Column("idempotency_key", String(500), nullable=True),
    Column("fingerprint", String(64), nullable=True),
    Column("service_request_id", String(200), nullable=True),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("accepted_at", UtcDateTime, nullable=False),
    Column("settled_at", UtcDateTime, nullable=True),
    UniqueConstraint("idempotency_key", "jurisdiction_id"),  # key first: looked up by key
    Index(None, "jurisdiction_id", "fingerprint", "accepted_at", **_only_where_set("fingerprint")),
    Index(None, "state", "settled_at", **_only_where_set("settled_at")),
)
"""Every request accepted through the queue, from acceptance to its outcome.

The job id is also the token a client gets; `idempotency_key` (written into the
backend record) is what a repeat is recognised by, or `fingerprint` for a request that
came without a key. Both indexes are partial, so accepting a request sent with a key
(most are) writes neither: fewer pages per commit. Rows migrated from the former
`tokens` table keep their token as their job id and have no key.
"""
