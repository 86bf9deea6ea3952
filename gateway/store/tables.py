"""The store's tables, as SQLAlchemy Core knows them; migrations create and change them.

A change here needs a new revision in `migrations/versions/`; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tokens = Table(
    "tokens",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("jurisdiction_id", String(200), nullable=False),
    Column("service_request_id", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
