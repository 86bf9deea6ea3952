"""Submissions: every request accepted through the queue, its idempotency key and its
outcome; the tokens of 0001 become submissions (a token is a submission's job id).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("jurisdiction_id", sa.String(200), nullable=False),
        sa.Column("idempotency_key", sa.String(500), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("service_request_id", sa.String(200), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_submissions"),
        sa.UniqueConstraint(
            "idempotency_key",
            "jurisdiction_id",
            name="uq_submissions_idempotency_key_jurisdiction_id",
        ),
    )
    op.create_index(
        "ix_submissions_jurisdiction_id_fingerprint_accepted_at",
        "submissions",
        ["jurisdiction_id", "fingerprint", "accepted_at"],
    )
    op.create_index("ix_submissions_state_settled_at", "submissions", ["state", "settled_at"])
    op.execute(
        "INSERT INTO submissions (job_id, jurisdiction_id, service_request_id, state, "
        "accepted_at, settled_at) "
        "SELECT token, jurisdiction_id, service_request_id, "
        "CASE WHEN service_request_id IS NULL THEN 'accepted' ELSE 'delivered' END, "
        "created_at, CASE WHEN service_request_id IS NULL THEN NULL ELSE created_at END "
        "FROM tokens"
    )
    op.drop_table("tokens")


def downgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("jurisdiction_id", sa.String(200), nullable=False),
        sa.Column("service_request_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name="pk_tokens"),
    )
    op.execute(
        "INSERT INTO tokens (token, jurisdiction_id, service_request_id, created_at) "
        "SELECT job_id, jurisdiction_id, service_request_id, accepted_at FROM submissions"
    )
    op.drop_table("submissions")
