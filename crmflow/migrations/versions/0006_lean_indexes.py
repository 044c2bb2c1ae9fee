"""Lean history indexes: every fired event writes fewer index pages per commit."""

from __future__ import annotations

from alembic import op

revision = "0006_lean_indexes"
down_revision = "0001_engine"
branch_labels = ("lean",)
depends_on = None


def upgrade() -> None:
    # Each history row was written to four b-trees (table, uq_history_instance_key,
    # ix_history_instance, ix_history_at): 7.2 WAL pages per one-event commit on
    # SQLite, 4.6 without these two. Every history query reads by instance
    # (`WHERE instance_id = …` alone, with `key`, or joined by instance and then
    # filtered on `at`); the unique (instance_id, key) index leads with instance_id
    # and serves them all, sorting an instance's few rows by id in memory. Nothing
    # reads history by `at` alone (pruning goes by instance, events have ix_events_at).
    op.drop_index("ix_history_instance", table_name="history")
    op.drop_index("ix_history_at", table_name="history")


def downgrade() -> None:
    op.create_index("ix_history_at", "history", ["at"], unique=False)
    op.create_index("ix_history_instance", "history", ["instance_id", "id"], unique=False)
