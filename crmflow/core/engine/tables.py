"""The engine's tables: workflow versions, instances, history, timers, outbox."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = [
    "EventLog",
    "HistoryRow",
    "InstanceRow",
    "Notification",
    "OutboxRow",
    "TimerRow",
    "VoteRow",
    "WorkflowVersion",
]

# Times are stored as naive UTC; the engine converts at its edges.

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class WorkflowVersion(SQLModel, table=True):
    """The YAML of every workflow version an instance was started on."""

    __tablename__ = "workflow_versions"

    workflow: str = Field(primary_key=True, max_length=100)
    version: int = Field(primary_key=True)
    source: str = Field(sa_type=sa.Text)
    digest: str = Field(max_length=64)
    file: str | None = Field(default=None, sa_type=sa.Text)
    loaded_at: datetime


class InstanceRow(SQLModel, table=True):
    """One running or finished workflow instance; the row is the truth."""

    __tablename__ = "instances"
    __table_args__ = (
        sa.Index("ix_instances_workflow_state", "workflow", "state"),
        # `unique` start rules: one open instance per key, enforced by the DB.
        sa.UniqueConstraint("workflow", "open_key", name="uq_instances_open_key"),
        sa.UniqueConstraint("workflow", "start_key", name="uq_instances_start_key"),
    )

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    workflow: str = Field(max_length=100)
    version: int
    state: str = Field(max_length=100)
    data: str = Field(sa_type=sa.Text, default="{}")
    rev: int = Field(default=1)
    finished: bool = Field(default=False)
    open_key: str | None = Field(default=None, max_length=500)
    start_key: str | None = Field(default=None, max_length=500)
    created_at: datetime
    updated_at: datetime
    entered_at: datetime
    created_by: str | None = Field(default=None, max_length=200)
    #: a parallel state's regions as JSON ({"capacity": "pending", …}); NULL outside one
    regions: str | None = Field(default=None, sa_type=sa.Text)
    #: the instance whose `call:` state started this one (sub-workflows)
    parent_id: int | None = Field(default=None, sa_type=ID, index=True)


class HistoryRow(SQLModel, table=True):
    """One taken transition (or the start) of an instance."""

    __tablename__ = "history"
    __table_args__ = (
        # Serves lookups by instance too (migration 0006 dropped the narrower
        # indexes: every commit of a fired trigger paid for them).
        sa.UniqueConstraint("instance_id", "key", name="uq_history_instance_key"),
    )

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    instance_id: int = Field(sa_type=ID, foreign_key="instances.id", ondelete="CASCADE")
    trigger: str = Field(max_length=200)
    from_state: str | None = Field(default=None, max_length=100)
    to_state: str = Field(max_length=100)
    actor: str | None = Field(default=None, max_length=200)
    at: datetime
    payload: str | None = Field(default=None, sa_type=sa.Text)
    key: str | None = Field(default=None, max_length=500)


class TimerRow(SQLModel, table=True):
    """A deadline, `after` or `cron` timer waiting for its due time."""

    __tablename__ = "timers"
    __table_args__ = (
        sa.UniqueConstraint("instance_id", "name", "due", name="uq_timers_instance_name_due"),
        sa.Index("ix_timers_due", "due"),
    )

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    instance_id: int = Field(sa_type=ID, foreign_key="instances.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    trigger: str = Field(max_length=200)
    state: str = Field(max_length=100)
    due: datetime
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_until: datetime | None = None


class OutboxRow(SQLModel, table=True):
    """A side effect queued by a transaction, run after the commit."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    instance_id: int | None = Field(
        default=None, sa_type=ID, foreign_key="instances.id", ondelete="CASCADE"
    )
    history_id: int | None = Field(default=None, sa_type=ID)
    action_index: int = 0
    action: str = Field(max_length=200)
    params: str = Field(sa_type=sa.Text, default="{}")
    save_as: str | None = Field(default=None, max_length=200)
    key: str = Field(max_length=500, unique=True)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    max_attempts: int = 5
    next_attempt_at: datetime
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    result: str | None = Field(default=None, sa_type=sa.Text)
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_until: datetime | None = None
    created_at: datetime
    done_at: datetime | None = None


class Notification(SQLModel, table=True):
    """A message for a person or role, written by the `notify` action."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_recipient", "recipient", "id"),)

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    instance_id: int | None = Field(
        default=None, sa_type=ID, foreign_key="instances.id", ondelete="CASCADE"
    )
    recipient: str = Field(max_length=200)
    text: str = Field(sa_type=sa.Text)
    channel: str = Field(default="inbox", max_length=50)
    created_at: datetime
    read_at: datetime | None = None


class EventLog(SQLModel, table=True):
    """Every domain event delivered, with what it started or moved."""

    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("name", "key", name="uq_events_name_key"),
        sa.Index("ix_events_at", "at"),
    )

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    name: str = Field(max_length=200)
    key: str | None = Field(default=None, max_length=500)
    payload: str = Field(sa_type=sa.Text, default="{}")
    actor: str | None = Field(default=None, max_length=200)
    at: datetime
    result: str | None = Field(default=None, sa_type=sa.Text)


class VoteRow(SQLModel, table=True):
    """One vote cast in an `approval:` state (kept after the state is left)."""

    __tablename__ = "votes"
    __table_args__ = (sa.Index("ix_votes_instance", "instance_id", "id"),)

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    instance_id: int = Field(sa_type=ID, foreign_key="instances.id", ondelete="CASCADE")
    history_id: int = Field(sa_type=ID)
    state: str = Field(max_length=100)
    voter: str = Field(max_length=200)
    for_person: str = Field(max_length=200)
    decision: str = Field(max_length=20)
    at: datetime
    comment: str | None = Field(default=None, sa_type=sa.Text)

