"""Staged rollout: every change of a workflow's or plugin's rollout, with who, when and why."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0140_rollout"
down_revision = "0001_engine"
branch_labels = ("rollout",)
depends_on = None

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rollout_changes",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("departments", sa.Text(), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rollout_changes_name", "rollout_changes", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rollout_changes_name", table_name="rollout_changes")
    op.drop_table("rollout_changes")
