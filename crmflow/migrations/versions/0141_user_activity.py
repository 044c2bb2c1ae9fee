"""First steps: what each person did in the app that the records do not show (page views)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0141_user_activity"
down_revision = "0140_rollout"
branch_labels = None
depends_on = None

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "user_activity",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("activity", sa.String(length=50), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("device", sa.String(length=10), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_activity_user", "user_activity", ["username", "activity"])


def downgrade() -> None:
    op.drop_index("ix_user_activity_user", table_name="user_activity")
    op.drop_table("user_activity")
