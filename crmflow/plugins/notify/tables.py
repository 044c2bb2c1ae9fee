"""The notify plugin's tables: messages, deliveries per person and channel, preferences."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["deliveries", "messages", "metadata", "preferences"]

# The plugin's own metadata: these tables are created by migration 0170_notifications.
metadata = sa.MetaData()

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)

messages = sa.Table(
    "notify_messages",
    metadata,
    sa.Column("id", ID, primary_key=True),
    # who asked: the outbox key of a `notify` step, or a plugin's own key
    sa.Column("key", sa.String(500), nullable=False, unique=True),
    sa.Column("instance_id", ID, nullable=True),
    sa.Column("workflow", sa.String(100), nullable=True),
    sa.Column("text", sa.Text, nullable=True),  # JSON: a string or {language: text}
    sa.Column("template", sa.String(200), nullable=True),
    sa.Column("params", sa.Text, nullable=False, default="{}"),
    sa.Column("link", sa.String(1000), nullable=True),
    sa.Column("urgent", sa.Boolean, nullable=False, default=False),
    sa.Column("addressed_to", sa.Text, nullable=False),  # JSON list, as the workflow wrote it
    sa.Column("created_at", TIME, nullable=False),
)

deliveries = sa.Table(
    "notify_deliveries",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("message_id", ID, sa.ForeignKey("notify_messages.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("person", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),  # inapp | mail | wecom | dingtalk | feishu
    sa.Column("address", sa.String(500), nullable=True),  # the mail address used
    sa.Column("language", sa.String(20), nullable=False),
    sa.Column("text", sa.Text, nullable=False),  # the one-line text in the person's language
    # sent | pending | held (quiet hours or digest) | sending | failed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("batched", sa.Boolean, nullable=False, default=False),
    sa.Column("due_at", TIME, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("claimed_until", TIME, nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("sent_at", TIME, nullable=True),
    sa.Column("read_at", TIME, nullable=True),
    sa.UniqueConstraint("message_id", "person", "channel", name="uq_notify_deliveries_once"),
    sa.Index("ix_notify_deliveries_due", "status", "due_at"),
    sa.Index("ix_notify_deliveries_person", "person", "channel", "id"),
)

preferences = sa.Table(
    "notify_preferences",
    metadata,
    sa.Column("person", sa.String(200), primary_key=True),
    sa.Column("channels", sa.Text, nullable=True),  # JSON list, or NULL: the factory's default
    sa.Column("quiet_hours", sa.String(20), nullable=True),
    sa.Column("digest", sa.String(10), nullable=True),  # "08:00" or NULL
    sa.Column("language", sa.String(20), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("updated_at", TIME, nullable=False),
)
