"""Engine tables: workflow versions, instances, history, timers, outbox, events."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_engine"
down_revision = None
branch_labels = ("engine",)
depends_on = None

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "key", name="uq_events_name_key"),
    )
    op.create_index("ix_events_at", "events", ["at"], unique=False)
    op.create_table(
        "instances",
        sa.Column("id", ID, nullable=False),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=100), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("open_key", sa.String(length=500), nullable=True),
        sa.Column("start_key", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow", "open_key", name="uq_instances_open_key"),
        sa.UniqueConstraint("workflow", "start_key", name="uq_instances_start_key"),
    )
    op.create_index("ix_instances_workflow_state", "instances", ["workflow", "state"], unique=False)
    op.create_table(
        "workflow_versions",
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("file", sa.Text(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow", "version"),
    )
    op.create_table(
        "history",
        sa.Column("id", ID, nullable=False),
        sa.Column("instance_id", ID, nullable=False),
        sa.Column("trigger", sa.String(length=200), nullable=False),
        sa.Column("from_state", sa.String(length=100), nullable=True),
        sa.Column("to_state", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("key", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "key", name="uq_history_instance_key"),
    )
    op.create_index("ix_history_at", "history", ["at"], unique=False)
    op.create_index("ix_history_instance", "history", ["instance_id", "id"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("instance_id", ID, nullable=True),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_notifications_recipient", "notifications", ["recipient", "id"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("instance_id", ID, nullable=True),
        sa.Column("history_id", ID, nullable=True),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("save_as", sa.String(length=200), nullable=True),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "timers",
        sa.Column("id", ID, nullable=False),
        sa.Column("instance_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("trigger", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=100), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "name", "due", name="uq_timers_instance_name_due"),
    )
    op.create_index("ix_timers_due", "timers", ["due"], unique=False)


def downgrade() -> None:
    op.drop_table("timers")
    op.drop_table("outbox")
    op.drop_table("notifications")
    op.drop_table("history")
    op.drop_table("workflow_versions")
    op.drop_table("instances")
    op.drop_table("events")
