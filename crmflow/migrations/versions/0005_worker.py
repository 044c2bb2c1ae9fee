"""Worker tables: the durable inbound event queue (inbox) and the prune index."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_worker"
down_revision = "0001_engine"
branch_labels = ("worker",)
depends_on = None

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("instance_id", ID, nullable=True),
        sa.Column("trigger", sa.String(length=200), nullable=True),
        sa.Column("event", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_inbox_key"),
    )
    op.create_index("ix_inbox_status_id", "inbox", ["status", "id"], unique=False)
    # Pruning looks for finished instances by age. Partial, so the fire path (which
    # changes updated_at of open instances on every event) never writes to it.
    op.create_index(
        "ix_instances_finished_updated",
        "instances",
        ["updated_at"],
        unique=False,
        sqlite_where=sa.text("finished = 1"),
        postgresql_where=sa.text("finished"),
    )


def downgrade() -> None:
    op.drop_index("ix_instances_finished_updated", table_name="instances")
    op.drop_index("ix_inbox_status_id", table_name="inbox")
    op.drop_table("inbox")
