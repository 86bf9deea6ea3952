"""Tokens: what a batch service answers with, and the backend id it resolves to.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("jurisdiction_id", sa.String(200), nullable=False),
        sa.Column("service_request_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name="pk_tokens"),
    )


def downgrade() -> None:
    op.drop_table("tokens")
