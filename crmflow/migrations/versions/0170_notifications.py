"""Notifications: messages, deliveries per person and channel, and preferences.

The rows the old `notify` action wrote to `notifications` (read by nothing)
are copied into the person's in-app inbox, so nothing written before is lost.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0170_notifications"
down_revision = "0001_engine"
branch_labels = ("notifications",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notify_messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("instance_id", ID, nullable=True),
        sa.Column("workflow", sa.String(length=100), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("template", sa.String(length=200), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("addressed_to", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_notify_messages_key"),
    )
    op.create_table(
        "notify_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("batched", sa.Boolean(), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_until", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("sent_at", TIME, nullable=True),
        sa.Column("read_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["notify_messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "person", "channel", name="uq_notify_deliveries_once"),
    )
    op.create_index("ix_notify_deliveries_due", "notify_deliveries", ["status", "due_at"])
    op.create_index(
        "ix_notify_deliveries_person", "notify_deliveries", ["person", "channel", "id"]
    )
    op.create_table(
        "notify_preferences",
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("channels", sa.Text(), nullable=True),
        sa.Column("quiet_hours", sa.String(length=20), nullable=True),
        sa.Column("digest", sa.String(length=10), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("person"),
    )
    _copy_old_rows()


def _copy_old_rows() -> None:
    conn = op.get_bind()
    old = sa.table(
        "notifications", sa.column("id"), sa.column("instance_id"), sa.column("recipient"),
        sa.column("text"), sa.column("created_at"), sa.column("read_at"),
    )  # fmt: skip
    msgs = sa.table(
        "notify_messages", sa.column("id"), sa.column("key"), sa.column("instance_id"),
        sa.column("text"), sa.column("params"), sa.column("urgent"),
        sa.column("addressed_to"), sa.column("created_at"),
    )  # fmt: skip
    dels = sa.table(
        "notify_deliveries", sa.column("message_id"), sa.column("person"), sa.column("channel"),
        sa.column("language"), sa.column("text"), sa.column("status"), sa.column("batched"),
        sa.column("due_at"), sa.column("attempts"), sa.column("created_at"),
        sa.column("sent_at"), sa.column("read_at"),
    )  # fmt: skip
    for row in conn.execute(sa.select(old).order_by(old.c.id)):
        mid = conn.execute(
            msgs.insert()
            .values(
                key=f"legacy:{row.id}", instance_id=row.instance_id,
                text=json.dumps(row.text, ensure_ascii=False), params="{}", urgent=False,
                addressed_to=json.dumps([row.recipient]), created_at=row.created_at,
            )  # fmt: skip
            .returning(msgs.c.id)
        ).scalar_one()
        conn.execute(
            dels.insert().values(
                message_id=mid, person=row.recipient, channel="inapp", language="en",
                text=row.text, status="sent", batched=False, due_at=row.created_at,
                attempts=1, created_at=row.created_at, sent_at=row.created_at,
                read_at=row.read_at,
            )  # fmt: skip
        )


def downgrade() -> None:
    op.drop_table("notify_preferences")
    op.drop_index("ix_notify_deliveries_person", table_name="notify_deliveries")
    op.drop_index("ix_notify_deliveries_due", table_name="notify_deliveries")
    op.drop_table("notify_deliveries")
    op.drop_table("notify_messages")
