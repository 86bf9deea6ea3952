"""Submissions: the fingerprint and settlement indexes hold only the rows they serve.

A request sent with a key has no fingerprint, and an accepted request is not settled
yet, so accepting one no longer writes either index: fewer pages per commit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_submissions_jurisdiction_id_fingerprint_accepted_at": (
        ["jurisdiction_id", "fingerprint", "accepted_at"],
        "fingerprint",
    ),
    "ix_submissions_state_settled_at": (["state", "settled_at"], "settled_at"),
}


def upgrade() -> None:
    for name, (columns, present) in INDEXES.items():
        condition = sa.text(f"{present} IS NOT NULL")
        op.drop_index(name, table_name="submissions")
        op.create_index(
            name, "submissions", columns, sqlite_where=condition, postgresql_where=condition
        )


def downgrade() -> None:
    for name, (columns, _) in INDEXES.items():
        op.drop_index(name, table_name="submissions")
        op.create_index(name, "submissions", columns)
